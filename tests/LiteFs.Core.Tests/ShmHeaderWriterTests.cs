using LiteFs.Core.Sqlite;
using LiteFs.TestKit;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core.Tests;

public sealed class ShmHeaderWriterTests : IDisposable
{
    private readonly TempDir _dir = new("litefs-shm");

    public void Dispose() => _dir.Dispose();

    private SafeFileHandle Shm(int length)
    {
        var path = _dir.Combine("db-shm");
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite);
        var fill = new byte[length];
        Array.Fill(fill, (byte)0xA5);
        RandomAccess.Write(handle, fill, 0);
        return handle;
    }

    [Fact]
    public void Rewrite_ShortFile_IsExtendedToOneRegion()
    {
        using var shm = Shm(0);
        new ShmHeaderWriter().Rewrite(shm, 4096, 3, WalCursor.None);
        Assert.Equal(ShmLayout.RegionSize, RandomAccess.GetLength(shm));
    }

    /// <summary>
    /// A WAL of more than 4062 frames had SQLite map a second region; a connection that still has
    /// it mapped would fault (SIGBUS) on its next use of it if the file were cut to one region.
    /// </summary>
    [Fact]
    public void Rewrite_FileOfSeveralRegions_KeepsItsLength_AndWritesOnlyTheFirstRegion()
    {
        const int length = 3 * ShmLayout.RegionSize;
        using var shm = Shm(length);
        new ShmHeaderWriter().Rewrite(shm, 4096, 3, WalCursor.None);
        Assert.Equal(length, RandomAccess.GetLength(shm));
        var rest = new byte[length - ShmLayout.RegionSize];
        RandomAccess.Read(shm, rest, ShmLayout.RegionSize);
        Assert.All(rest, b => Assert.Equal(0xA5, b));
        var header = new byte[ShmLayout.HeaderSize];
        RandomAccess.Read(shm, header, 0);
        Assert.NotEqual(new byte[ShmLayout.HeaderSize], header);
    }
}
