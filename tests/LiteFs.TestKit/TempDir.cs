namespace LiteFs.TestKit;

/// <summary>A fresh temporary directory, deleted with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates a new directory under the system temporary folder.</summary>
    public TempDir(string prefix = "litefs-test")
    {
        Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
    }

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>A path inside the directory.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
