using LiteFs.Fuse;
using LiteFs.Fuse.Loopback;

namespace LiteFs.TestKit;

/// <summary>
/// A loopback file system mounted in this process over a fresh temporary directory: source/ is
/// mirrored at mnt/. Dispose unmounts, then deletes both.
/// </summary>
public sealed class LoopbackMount : IDisposable
{
    private readonly TempDir _dir;

    /// <summary>Mounts a loopback of a new empty directory.</summary>
    public LoopbackMount(MountOptions? options = null, LoopbackOptions? loopbackOptions = null)
    {
        _dir = new TempDir("litefs-fuse");
        Source = _dir.Combine("source");
        MountPoint = _dir.Combine("mnt");
        Directory.CreateDirectory(Source);
        Directory.CreateDirectory(MountPoint);
        try
        {
            FileSystem = new LoopbackFileSystem(Source, loopbackOptions);
            Mount = FuseMount.Mount(MountPoint, FileSystem.Root, options ?? new MountOptions { FsName = "litefs-test" });
        }
        catch
        {
            FileSystem?.Dispose();
            _dir.Dispose();
            throw;
        }
    }

    /// <summary>The mirrored (real) directory.</summary>
    public string Source { get; }

    /// <summary>Where it is mounted.</summary>
    public string MountPoint { get; }

    /// <summary>The loopback file system.</summary>
    public LoopbackFileSystem FileSystem { get; }

    /// <summary>The mount.</summary>
    public FuseMount Mount { get; }

    /// <summary>A path inside the mount.</summary>
    public string Path(params string[] parts) => System.IO.Path.Combine([MountPoint, .. parts]);

    /// <summary>A path inside the mirrored directory.</summary>
    public string SourcePath(params string[] parts) => System.IO.Path.Combine([Source, .. parts]);

    /// <inheritdoc />
    public void Dispose()
    {
        Mount.Dispose();
        FileSystem.Dispose();
        if (!Mounts.IsMounted(MountPoint))
        {
            _dir.Dispose();
        }
    }
}

/// <summary>Questions about the kernel's mount table.</summary>
public static class Mounts
{
    /// <summary>True when something is mounted exactly at <paramref name="path"/>.</summary>
    public static bool IsMounted(string path)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(path));
        return File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' '))
            .Any(fields => fields.Length > 4 && fields[4].Replace("\\040", " ", StringComparison.Ordinal) == full);
    }

    /// <summary>Detaches whatever is mounted at <paramref name="path"/> (root; for cleanup after a failed test).</summary>
    public static void ForceDetach(string path)
    {
        if (IsMounted(path))
        {
            _ = ChildProcess.Run("umount", ["-l", path], timeout: TimeSpan.FromSeconds(30));
        }
    }
}
