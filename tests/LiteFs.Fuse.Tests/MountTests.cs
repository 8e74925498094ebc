using LiteFs.Fuse.Loopback;
using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>Mounting and unmounting: the errors users hit, the unprivileged path, signals, stale mounts.</summary>
public sealed class MountTests : IDisposable
{
    private readonly TempDir _dir = new("litefs-fuse-mount");
    private readonly string _source;
    private readonly string _mountPoint;

    public MountTests()
    {
        _source = _dir.Combine("source");
        _mountPoint = _dir.Combine("mnt");
        Directory.CreateDirectory(_source);
        Directory.CreateDirectory(_mountPoint);
        File.WriteAllText(Path.Combine(_source, "hello.txt"), "hello");
    }

    public void Dispose()
    {
        Mounts.ForceDetach(_mountPoint);
        _dir.Dispose();
    }

    private FuseMount MountLoopback(LoopbackFileSystem fileSystem, MountOptions? options = null) =>
        FuseMount.Mount(_mountPoint, fileSystem.Root, options ?? new MountOptions());

    [Fact]
    public void Mount_MissingMountPoint_SaysCreateIt()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        var missing = _dir.Combine("nope");
        var error = Assert.Throws<FuseMountException>(() => FuseMount.Mount(missing, fileSystem.Root));
        Assert.Equal($"cannot mount on {missing}: the mount point does not exist. Create it first (mkdir -p {missing}).", error.Message);
    }

    [Fact]
    public void Mount_FileAsMountPoint_SaysNotADirectory()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        var file = Path.Combine(_source, "hello.txt");
        var error = Assert.Throws<FuseMountException>(() => FuseMount.Mount(file, fileSystem.Root));
        Assert.Equal($"cannot mount on {file}: the mount point is not a directory.", error.Message);
    }

    [Fact]
    public void Mount_Twice_SaysAlreadyMounted()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        using var mount = MountLoopback(fileSystem, new MountOptions { FsName = "first" });
        var error = Assert.Throws<FuseMountException>(() => MountLoopback(fileSystem));
        Assert.StartsWith($"cannot mount on {_mountPoint}: it is already mounted (fuse.litefs from first). Unmount it first", error.Message, StringComparison.Ordinal);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));
    }

    [Fact]
    public void Mount_MissingDevice_SaysWhatToDo()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        var error = Assert.Throws<FuseMountException>(() => MountLoopback(fileSystem, new MountOptions { DevicePath = "/nonexistent/fuse" }));
        Assert.StartsWith("cannot open /nonexistent/fuse: no such device file.", error.Message, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void Dispose_Unmounts_AndProtocolWasNegotiated()
    {
        using (var fileSystem = new LoopbackFileSystem(_source))
        using (var mount = MountLoopback(fileSystem))
        {
            Assert.True(Mounts.IsMounted(_mountPoint));
            Assert.False(mount.UsedFusermount);
            Assert.True(mount.ProtocolMinor >= 31);
            Assert.Equal("hello", File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));
        }
        Assert.False(Mounts.IsMounted(_mountPoint));
        Assert.False(File.Exists(Path.Combine(_mountPoint, "hello.txt")));
    }

    [Fact]
    public void Fusermount_AsRoot_PassesTheDeviceOverTheSocket()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        using (var mount = MountLoopback(fileSystem, new MountOptions { UseFusermount = true }))
        {
            Assert.True(mount.UsedFusermount);
            File.WriteAllText(Path.Combine(_mountPoint, "via-fusermount"), "ok");
            Assert.Equal("ok", File.ReadAllText(Path.Combine(_source, "via-fusermount")));
        }
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public async Task ExternalUnmount_CompletesTheMount()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        using var mount = MountLoopback(fileSystem);
        Assert.False(mount.Completion.IsCompleted);
        var (exitCode, _, stderr) = ChildProcess.Run("fusermount3", ["-u", _mountPoint]);
        Assert.True(exitCode == 0, stderr);
        await mount.Completion.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Unmounted with a file still open: the mount point leads to the directory beneath at once,
    /// and the open file can only be closed (a write, a sync, a lock fail as if the server had
    /// gone), so a program cannot go on with one file here and another, by path, there.
    /// </summary>
    [Fact]
    public async Task Unmount_FileStillOpen_CanOnlyBeClosed_ThenTheMountCompletes()
    {
        using var fileSystem = new LoopbackFileSystem(_source);
        using var mount = MountLoopback(fileSystem);
        var path = Path.Combine(_mountPoint, "hello.txt");
        using (var open = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(open, "J"u8, 0);

            mount.Unmount();
            Assert.False(Mounts.IsMounted(_mountPoint));
            Assert.False(File.Exists(path));
            var write = Assert.ThrowsAny<IOException>(() => RandomAccess.Write(open, "Y"u8, 1));
            Assert.Contains("not connected", write.Message, StringComparison.OrdinalIgnoreCase);
            Assert.False(mount.Completion.IsCompleted);
        }
        await mount.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("Jello", File.ReadAllText(Path.Combine(_source, "hello.txt")));
    }

    [Fact]
    public void Passthrough_ServesReadsAndWritesFromTheBackingFile()
    {
        using var fileSystem = new LoopbackFileSystem(_source, new LoopbackOptions { Passthrough = true });
        using var mount = MountLoopback(fileSystem, new MountOptions { Passthrough = true });
        Assert.True(mount.PassthroughEnabled, "this kernel (6.9+, CONFIG_FUSE_PASSTHROUGH) should allow passthrough as root");

        var path = Path.Combine(_mountPoint, "pt.bin");
        var data = Enumerable.Range(0, 200_000).Select(i => (byte)i).ToArray();
        File.WriteAllBytes(path, data);
        // Two opens of one inode share its backing file.
        using var first = File.OpenRead(path);
        using var second = File.OpenRead(path);
        var buffer = new byte[data.Length];
        first.ReadExactly(buffer);
        Assert.Equal(data, buffer);
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(_source, "pt.bin")));
        Assert.Equal(data.Length, second.Length);
    }

    [Fact]
    public void Passthrough_AskedWhileOpensWithoutItAreOpen_ServedThroughTheFileSystem()
    {
        // A LiteFS node that was a replica (its WAL opened without passthrough) and is now primary.
        var options = new LoopbackOptions { Passthrough = false };
        using var fileSystem = new LoopbackFileSystem(_source, options);
        using var mount = MountLoopback(fileSystem, new MountOptions { Passthrough = true });
        Assert.True(mount.PassthroughEnabled, "this kernel (6.9+, CONFIG_FUSE_PASSTHROUGH) should allow passthrough as root");
        var path = Path.Combine(_mountPoint, "mode.bin");
        File.WriteAllBytes(path, [1, 2, 3]);

        using (var cached = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            options.Passthrough = true;
            // The kernel fails a passthrough open of an inode with cached opens (EIO).
            using var second = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            second.Write([4, 5, 6]);
            second.Flush();
            var buffer = new byte[3];
            cached.ReadExactly(buffer);
            Assert.Equal([4, 5, 6], buffer);
        }
        Assert.Equal([4, 5, 6], File.ReadAllBytes(Path.Combine(_source, "mode.bin")));
    }

    [Fact]
    public void Passthrough_OfferedOnlyIfInUse_JoinsPassthroughOpensOfTheSameFile()
    {
        // A LiteFS node that was primary (its WAL in passthrough) and is now a replica.
        var options = new LoopbackOptions { Passthrough = true };
        using var fileSystem = new LoopbackFileSystem(_source, options);
        using var mount = MountLoopback(fileSystem, new MountOptions { Passthrough = true });
        Assert.True(mount.PassthroughEnabled, "this kernel (6.9+, CONFIG_FUSE_PASSTHROUGH) should allow passthrough as root");
        var path = Path.Combine(_mountPoint, "join.bin");
        File.WriteAllBytes(path, [7, 8, 9]);

        using (var passthrough = File.OpenRead(path))
        {
            options.Passthrough = false;
            options.PassthroughOnlyIfInUse = true;
            // The kernel fails any open of an inode in passthrough that is not (EIO).
            using var second = File.OpenRead(path);
            var buffer = new byte[3];
            second.ReadExactly(buffer);
            Assert.Equal([7, 8, 9], buffer);
        }
        // With none in passthrough, the offer is not taken: served through the file system.
        Assert.Equal([7, 8, 9], File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(15)]
    [InlineData(2)]
    public void LoopbackTool_TerminatingSignal_Unmounts(int signal)
    {
        using var tool = Tools.StartLoopback(_source, _mountPoint);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));

        tool.Signal(signal);

        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), "the loopback tool did not exit");
        Assert.Equal(0, tool.ExitCode);
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void StaleMount_FromKilledProcess_IsCleanedBeforeMounting()
    {
        using (var tool = Tools.StartLoopback(_source, _mountPoint))
        {
            tool.Signal(9);
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        Assert.True(Mounts.IsMounted(_mountPoint));
        var stale = Assert.Throws<IOException>(() => Directory.GetFiles(_mountPoint));
        Assert.Contains("not connected", stale.Message, StringComparison.Ordinal);

        using var fileSystem = new LoopbackFileSystem(_source);
        using (var mount = MountLoopback(fileSystem))
        {
            Assert.Equal("hello", File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));
        }
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void StaleMount_DetachingTurnedOff_IsAnError_AndStays()
    {
        using (var tool = Tools.StartLoopback(_source, _mountPoint))
        {
            tool.Signal(9);
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)));
        }
        using var fileSystem = new LoopbackFileSystem(_source);
        var options = new MountOptions { DetachStaleMount = false };

        var checkError = Assert.Throws<FuseMountException>(() => FuseMount.CheckCanMount(_mountPoint, options));
        var mountError = Assert.Throws<FuseMountException>(() => MountLoopback(fileSystem, options));
        foreach (var error in (ReadOnlySpan<FuseMountException>)[checkError, mountError])
        {
            Assert.StartsWith($"cannot mount on {_mountPoint}: a stale FUSE mount is there (transport endpoint is not connected) and detaching it is turned off. " +
                $"Detach it by hand (fusermount3 -u -z {_mountPoint}", error.Message, StringComparison.Ordinal);
            Assert.Equal(Errno.ENOTCONN, error.Errno);
        }
        Assert.True(Mounts.IsMounted(_mountPoint));
        // Detaching is on by default: the check passes and mounting cleans up.
        FuseMount.CheckCanMount(_mountPoint);
    }

    [Fact]
    public void CheckCanMount_UsableSetup_Passes_MissingMountPointToo()
    {
        FuseMount.CheckCanMount(_mountPoint);
        FuseMount.CheckCanMount(_mountPoint, new MountOptions { UseFusermount = true, AllowOther = true });
        FuseMount.CheckCanMount(_dir.Combine("not-yet"));
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void CheckCanMount_ReportsWhatMountWouldFailOn()
    {
        var noDevice = Assert.Throws<FuseMountException>(() => FuseMount.CheckCanMount(_mountPoint, new MountOptions { DevicePath = "/nonexistent/fuse" }));
        Assert.StartsWith("cannot open /nonexistent/fuse: no such device file.", noDevice.Message, StringComparison.Ordinal);

        var noFusermount = Assert.Throws<FuseMountException>(() =>
            FuseMount.CheckCanMount(_mountPoint, new MountOptions { UseFusermount = true, FusermountPath = "/nonexistent/fusermount3" }));
        Assert.Equal("cannot mount as uid 0: fusermount3 was not found. Install the fuse3 package, or run as root.", noFusermount.Message);

        var file = Path.Combine(_source, "hello.txt");
        var notDirectory = Assert.Throws<FuseMountException>(() => FuseMount.CheckCanMount(file));
        Assert.Equal($"cannot mount on {file}: the mount point is not a directory.", notDirectory.Message);
    }
}
