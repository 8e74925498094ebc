using System.Text;
using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>POSIX file operations through a real loopback mount, checked against the mirrored directory.</summary>
public sealed class FileOperationTests : IDisposable
{
    private readonly LoopbackMount _mount = new();

    public void Dispose() => _mount.Dispose();

    [Fact]
    public void CreateWriteRead_RoundTrips_AndReachesSource()
    {
        var data = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(_mount.Path("a.bin"), data);

        Assert.Equal(data, File.ReadAllBytes(_mount.Path("a.bin")));
        Assert.Equal(data, File.ReadAllBytes(_mount.SourcePath("a.bin")));
        Assert.Equal(data.Length, new FileInfo(_mount.Path("a.bin")).Length);
    }

    [Fact]
    public void CreateNew_ExistingFile_FailsWithExists()
    {
        File.WriteAllText(_mount.Path("x"), "1");
        var error = Assert.Throws<IOException>(() => new FileStream(_mount.Path("x"), FileMode.CreateNew).Dispose());
        Assert.Contains("exists", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Write_AtOffsets_PatchesInPlace()
    {
        File.WriteAllBytes(_mount.Path("p"), new byte[8192]);
        using (var stream = new FileStream(_mount.Path("p"), FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 4096;
            stream.Write("hello"u8);
            stream.Position = 10_000;
            stream.Write("tail"u8);
        }
        var bytes = File.ReadAllBytes(_mount.SourcePath("p"));
        Assert.Equal(10_004, bytes.Length);
        Assert.Equal("hello", Encoding.ASCII.GetString(bytes, 4096, 5));
        Assert.Equal("tail", Encoding.ASCII.GetString(bytes, 10_000, 4));
        Assert.All(bytes[8192..10_000], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Truncate_ShrinksAndGrows_ThroughHandleAndPath()
    {
        File.WriteAllText(_mount.Path("t"), new string('x', 10_000));
        using (var stream = new FileStream(_mount.Path("t"), FileMode.Open, FileAccess.ReadWrite))
        {
            stream.SetLength(100);
        }
        Assert.Equal(100, new FileInfo(_mount.SourcePath("t")).Length);
        Assert.Equal(0, Native.Truncate(_mount.Path("t"), 5000));
        Assert.Equal(5000, new FileInfo(_mount.Path("t")).Length);
        var content = File.ReadAllBytes(_mount.Path("t"));
        Assert.All(content[..100], b => Assert.Equal((byte)'x', b));
        Assert.All(content[100..], b => Assert.Equal(0, b));

        // O_TRUNC arrives with the open (atomic O_TRUNC).
        File.WriteAllText(_mount.Path("t"), "short");
        Assert.Equal("short", File.ReadAllText(_mount.SourcePath("t")));
    }

    [Fact]
    public void Rename_MovesReplacesAndHonorsNoReplace()
    {
        Directory.CreateDirectory(_mount.Path("d"));
        File.WriteAllText(_mount.Path("a"), "A");
        File.WriteAllText(_mount.Path("b"), "B");

        File.Move(_mount.Path("a"), _mount.Path("d", "a2"));
        Assert.False(File.Exists(_mount.Path("a")));
        Assert.Equal("A", File.ReadAllText(_mount.Path("d", "a2")));
        Assert.True(File.Exists(_mount.SourcePath("d", "a2")));

        File.Move(_mount.Path("d", "a2"), _mount.Path("b"), overwrite: true);
        Assert.Equal("A", File.ReadAllText(_mount.Path("b")));

        File.WriteAllText(_mount.Path("c"), "C");
        Assert.Equal(-1, Native.RenameAt2(-100, _mount.Path("c"), -100, _mount.Path("b"), Native.RenameNoReplace));
        Assert.Equal(17, Native.Errno); // EEXIST
        Assert.Equal(0, Native.RenameAt2(-100, _mount.Path("c"), -100, _mount.Path("b"), Native.RenameExchange));
        Assert.Equal("C", File.ReadAllText(_mount.Path("b")));
        Assert.Equal("A", File.ReadAllText(_mount.Path("c")));
    }

    [Fact]
    public void Unlink_RemovesFile_WhileOpenHandleStillReads()
    {
        File.WriteAllText(_mount.Path("u"), "still here");
        using var open = new FileStream(_mount.Path("u"), FileMode.Open, FileAccess.Read);
        File.Delete(_mount.Path("u"));

        Assert.False(File.Exists(_mount.Path("u")));
        Assert.False(File.Exists(_mount.SourcePath("u")));
        using var reader = new StreamReader(open);
        Assert.Equal("still here", reader.ReadToEnd());
    }

    [Fact]
    public void MkdirRmdir_CreateRemove_AndNonEmptyFails()
    {
        Directory.CreateDirectory(_mount.Path("x", "y", "z"));
        Assert.True(Directory.Exists(_mount.SourcePath("x", "y", "z")));
        File.WriteAllText(_mount.Path("x", "y", "f"), "f");

        var error = Assert.Throws<IOException>(() => Directory.Delete(_mount.Path("x", "y")));
        Assert.Contains("not empty", error.Message, StringComparison.OrdinalIgnoreCase);
        Directory.Delete(_mount.Path("x"), recursive: true);
        Assert.False(Directory.Exists(_mount.SourcePath("x")));
    }

    [Fact]
    public void ReadDir_ManyEntries_ListsEveryNameWithAttributes()
    {
        // More entries than fit in one READDIR(PLUS) reply, so listing continues from offsets.
        var expected = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 600; i++)
        {
            var name = $"file-{i:D4}-{new string('n', i % 40)}";
            File.WriteAllText(_mount.SourcePath(name), new string('x', i));
            expected.Add(name);
        }
        Directory.CreateDirectory(_mount.SourcePath("sub"));
        expected.Add("sub");

        var listed = new DirectoryInfo(_mount.MountPoint).EnumerateFileSystemInfos().ToList();

        Assert.Equal(expected, new SortedSet<string>(listed.Select(i => i.Name), StringComparer.Ordinal));
        Assert.All(listed.OfType<FileInfo>(), info => Assert.Equal(int.Parse(info.Name[5..9], System.Globalization.CultureInfo.InvariantCulture), info.Length));
        Assert.Single(listed.OfType<DirectoryInfo>());
    }

    [Fact]
    public void Stat_ReportsSizeModeAndTimes_AndSetattrChangesThem()
    {
        File.WriteAllText(_mount.Path("s"), "12345");
        File.SetUnixFileMode(_mount.Path("s"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var when = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(_mount.Path("s"), when);

        var info = new FileInfo(_mount.Path("s"));
        Assert.Equal(5, info.Length);
        Assert.Equal(when, info.LastWriteTimeUtc);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(_mount.Path("s")));
        Assert.Equal(when, new FileInfo(_mount.SourcePath("s")).LastWriteTimeUtc);
        Assert.Equal(File.GetUnixFileMode(_mount.SourcePath("s")), File.GetUnixFileMode(_mount.Path("s")));
    }

    [Fact]
    public void Fsync_OnFileAndData_Succeeds()
    {
        using var stream = new FileStream(_mount.Path("f"), FileMode.Create, FileAccess.ReadWrite);
        stream.Write(new byte[100_000]);
        stream.Flush(flushToDisk: true);
        Assert.Equal(100_000, new FileInfo(_mount.SourcePath("f")).Length);
    }

    [Fact]
    public void SparseWrite_Beyond4GiB_KeepsHoleAndData()
    {
        const long offset = (5L << 30) + 123;
        using (var stream = new FileStream(_mount.Path("sparse"), FileMode.Create, FileAccess.ReadWrite))
        {
            stream.Position = offset;
            stream.Write("beyond4g"u8);
        }

        var info = new FileInfo(_mount.Path("sparse"));
        Assert.Equal(offset + 8, info.Length);
        using (var stream = new FileStream(_mount.Path("sparse"), FileMode.Open, FileAccess.Read))
        {
            var buffer = new byte[8];
            stream.Position = offset;
            stream.ReadExactly(buffer);
            Assert.Equal("beyond4g", Encoding.ASCII.GetString(buffer));
            stream.Position = 4L << 30;
            stream.ReadExactly(buffer);
            Assert.All(buffer, b => Assert.Equal(0, b));

            // SEEK_DATA from the start lands near the data, not at 0: the hole survived.
            var data = Native.LSeek(Native.Fd(stream.SafeFileHandle), 0, Native.SeekData);
            Assert.True(data > 4L << 30, $"SEEK_DATA returned {data}");
        }
        Assert.Equal(offset + 8, new FileInfo(_mount.SourcePath("sparse")).Length);
    }

    [Fact]
    public void Fallocate_ExtendsFile()
    {
        using var stream = new FileStream(_mount.Path("alloc"), FileMode.Create, FileAccess.ReadWrite);
        Assert.Equal(0, Native.FAllocate(Native.Fd(stream.SafeFileHandle), 0, 0, 1 << 20));
        Assert.Equal(1 << 20, new FileInfo(_mount.SourcePath("alloc")).Length);
    }

    [Fact]
    public unsafe void StatFs_ReportsTheSourceFileSystem()
    {
        var mounted = stackalloc byte[120];
        var source = stackalloc byte[120];
        Assert.Equal(0, Native.StatFs(_mount.MountPoint, mounted));
        Assert.Equal(0, Native.StatFs(_mount.Source, source));
        // f_blocks (offset 16) is the same file system's size.
        Assert.Equal(*(long*)(source + 16), *(long*)(mounted + 16));
        Assert.Equal(0x65735546, *(long*)mounted); // f_type FUSE_SUPER_MAGIC
    }

    [Fact]
    public void Access_ExistingAndMissing()
    {
        File.WriteAllText(_mount.Path("a"), "");
        Assert.Equal(0, Native.Access(_mount.Path("a"), 4));
        Assert.Equal(-1, Native.Access(_mount.Path("missing"), 0));
        Assert.Equal(2, Native.Errno);
    }

    [Fact]
    public void Forget_AfterDropCaches_ReleasesNodes()
    {
        for (var i = 0; i < 20; i++)
        {
            File.WriteAllText(_mount.Path($"n{i}"), "x");
        }
        Assert.True(_mount.Mount.KnownNodes > 20);

        // Dropping the dentry and inode caches makes the kernel FORGET everything unused.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_mount.Mount.KnownNodes > 1 && DateTime.UtcNow < deadline)
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "2");
            Thread.Sleep(50);
        }
        Assert.Equal(1, _mount.Mount.KnownNodes);
        Assert.Equal(0, _mount.Mount.OpenHandles);
        Assert.Equal("x", File.ReadAllText(_mount.Path("n7")));
    }
}
