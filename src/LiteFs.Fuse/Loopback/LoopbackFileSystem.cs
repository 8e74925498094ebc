using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse.Loopback;

/// <summary>
/// A file system that mirrors a directory, built only on the public node/handle API: the
/// reference implementation of every interface, used by the tests and the benchmark.
/// Like libfuse's passthrough_ll, each node holds an O_PATH descriptor of the real file and every
/// operation is an *at(2) call relative to it, so renames never invalidate a node. POSIX locks are
/// kept in memory per file (<see cref="Locking.PosixLockSet"/>): they hold among users of the mount.
/// </summary>
public sealed class LoopbackFileSystem : IDisposable
{
    /// <summary>Mirrors <paramref name="sourceDirectory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory cannot be opened.</exception>
    public LoopbackFileSystem(string sourceDirectory, LoopbackOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        Options = options ?? new LoopbackOptions();
        SourceDirectory = Path.GetFullPath(sourceDirectory);
        var fd = Libc.Open(SourceDirectory, Libc.OPath | Libc.ODirectory | Libc.OCloExec, 0);
        if (fd < 0)
        {
            var errno = (Errno)Libc.LastError;
            throw new DirectoryNotFoundException($"cannot open {SourceDirectory}: {errno.Describe()} ({errno})");
        }
        Root = new LoopbackNode(this, fd, isRoot: true);
        RunningAsRoot = Libc.GetEUid() == 0;
    }

    /// <summary>The mirrored directory.</summary>
    public string SourceDirectory { get; }

    /// <summary>The root node to mount.</summary>
    public INode Root { get; }

    /// <summary>The behavior options.</summary>
    public LoopbackOptions Options { get; }

    internal bool RunningAsRoot { get; }

    /// <summary>Closes the root descriptor. Unmount first.</summary>
    public void Dispose() => ((LoopbackNode)Root).Forget();
}

/// <summary>Options of <see cref="LoopbackFileSystem"/>.</summary>
public sealed class LoopbackOptions
{
    /// <summary>
    /// Offer each opened regular file's real descriptor for FUSE passthrough (effective only when the
    /// mount negotiated <see cref="MountOptions.Passthrough"/>): the kernel then reads and writes the
    /// real file directly.
    /// </summary>
    public bool Passthrough { get; set; }

    /// <summary>
    /// With <see cref="Passthrough"/> off: still offer each opened file's descriptor, but only to
    /// join opens of it the kernel already serves in passthrough (<see cref="OpenResult.PassthroughOnlyIfInUse"/>).
    /// </summary>
    public bool PassthroughOnlyIfInUse { get; set; }

    /// <summary>
    /// Keep the page cache across opens (FOPEN_KEEP_CACHE). Right when the source directory only
    /// changes through the mount. Default true.
    /// </summary>
    public bool KeepCache { get; set; } = true;
}
