namespace LiteFs.Fuse;

/// <summary>How the kernel should treat an opened file.</summary>
[Flags]
public enum OpenOptions
{
    /// <summary>Cached I/O; the page cache is dropped at open (FUSE's default).</summary>
    None = 0,

    /// <summary>FOPEN_DIRECT_IO: bypass the page cache; every read and write reaches the file system.</summary>
    DirectIo = 1 << 0,

    /// <summary>
    /// FOPEN_KEEP_CACHE: keep cached pages from earlier opens. Right when every change goes through
    /// the mount, or when the file system invalidates changes it makes itself
    /// (<see cref="FuseMount.InvalidateInode"/>).
    /// </summary>
    KeepCache = 1 << 1,

    /// <summary>FOPEN_NONSEEKABLE: the file is a stream.</summary>
    NonSeekable = 1 << 2,

    /// <summary>FOPEN_CACHE_DIR: allow the kernel to cache this directory's entries.</summary>
    CacheDirectory = 1 << 3,

    /// <summary>FOPEN_NOFLUSH: do not send FLUSH on close. Note: FLUSH is where POSIX locks are released.</summary>
    NoFlush = 1 << 5,

    /// <summary>FOPEN_PARALLEL_DIRECT_WRITES: allow concurrent direct writes to the file.</summary>
    ParallelDirectWrites = 1 << 6,
}

/// <summary>The outcome of a successful open or create.</summary>
public struct OpenResult
{
    /// <summary>
    /// The handle later operations on this open file go to, or null for a stateless open: then reads,
    /// writes, locks and the rest go to the node itself, when it implements the handle interfaces.
    /// </summary>
    public IFileHandle? Handle { get; set; }

    /// <summary>Cache behavior for this open file.</summary>
    public OpenOptions Options { get; set; }

    /// <summary>
    /// A descriptor of a real file whose contents this open file mirrors, or -1. When the mount was
    /// made with <see cref="MountOptions.Passthrough"/> and the kernel agreed, the kernel serves this
    /// open file's reads (and writes, and mmap) from that file directly without asking the file
    /// system; the handle's own read/write methods are then not called. The file system keeps
    /// ownership of the descriptor (the kernel takes its own reference) unless
    /// <see cref="ClosePassthroughFd"/> is set.
    /// </summary>
    public int PassthroughFd { get; set; }

    /// <summary>
    /// The library closes <see cref="PassthroughFd"/> once the open is answered (a descriptor
    /// duplicated for this open, so that the file system's own may close at any time).
    /// </summary>
    public bool ClosePassthroughFd { get; set; }

    /// <summary>
    /// <see cref="PassthroughFd"/> is offered only to keep the kernel's one I/O mode per inode:
    /// it is used when other opens of this node are in passthrough on that same file (the kernel
    /// fails any open of the inode that is not, with EIO), and otherwise the open is served
    /// through the file system.
    /// </summary>
    public bool PassthroughOnlyIfInUse { get; set; }

    /// <summary>A result with <paramref name="handle"/> and no passthrough.</summary>
    public static OpenResult For(IFileHandle? handle, OpenOptions options = OpenOptions.None) =>
        new() { Handle = handle, Options = options, PassthroughFd = -1 };
}

/// <summary>The type of a POSIX record lock.</summary>
public enum LockType
{
    /// <summary>F_RDLCK: shared.</summary>
    Read = 0,
    /// <summary>F_WRLCK: exclusive.</summary>
    Write = 1,
    /// <summary>F_UNLCK: no lock (as a request: release).</summary>
    Unlock = 2,
}

/// <summary>
/// A POSIX byte-range lock request as fcntl(2) made it (F_GETLK, F_SETLK, F_SETLKW), or a lock
/// reported back by F_GETLK.
/// </summary>
public readonly record struct FileLock
{
    /// <summary>"To the end of the file, however long it gets" (OFFSET_MAX).</summary>
    public const ulong ToEnd = long.MaxValue;

    /// <summary>The opaque lock owner: one per process for POSIX locks, one per open file for OFD locks.</summary>
    public ulong Owner { get; init; }

    /// <summary>The process id the kernel reported (0 for OFD locks).</summary>
    public uint Pid { get; init; }

    /// <summary>First byte covered.</summary>
    public ulong Start { get; init; }

    /// <summary>Last byte covered, inclusive; <see cref="ToEnd"/> for an open-ended range.</summary>
    public ulong End { get; init; }

    /// <summary>The lock type.</summary>
    public LockType Type { get; init; }

    /// <summary>True when the request came from flock(2) rather than fcntl(2).</summary>
    public bool IsFlock { get; init; }

    /// <summary>True when the two ranges share a byte.</summary>
    public bool Overlaps(ulong start, ulong end) => Start <= end && start <= End;
}
