using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// The directory check at start-up, for what root can see (the refusals for other users run as
/// such a user in the integration tests).
/// </summary>
public class DirectoryAccessTests
{
    [Fact]
    public void ExistingOrCreatable_Passes()
    {
        using var temp = new TempDir("litefs-access");
        DirectoryAccess.Check(temp.Path, "data.dir");
        DirectoryAccess.Check(temp.Combine("a", "b", "c"), "data.dir");
        DirectoryAccess.Check(temp.Path + "/", "data.dir");
        Assert.False(Directory.Exists(temp.Combine("a")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("below")]
    public void FileInTheWay_SaysItIsNotADirectory(string below)
    {
        using var temp = new TempDir("litefs-access");
        var file = temp.Combine("file");
        File.WriteAllText(file, "x");
        var path = Path.Combine(file, below);

        var error = Assert.Throws<LiteFsException>(() => DirectoryAccess.Check(path, "fuse.dir"));
        Assert.Equal(LiteFsError.Invalid, error.Error);
        Assert.Equal($"cannot use {Path.TrimEndingDirectorySeparator(path)} (fuse.dir): {file} is not a directory. Set fuse.dir to a directory.", error.Message);
    }
}
