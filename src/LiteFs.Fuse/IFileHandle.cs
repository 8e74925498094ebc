namespace LiteFs.Fuse;

// The handle layer: what an open file can do, one interface per capability. A stateless open (no
// handle) routes these calls to the node, which may implement them too.

/// <summary>An open file or directory.</summary>
public interface IFileHandle;

/// <summary>An open file that can be read.</summary>
public interface IHandleRead : IFileHandle
{
    /// <summary>read: fills <paramref name="buffer"/> from <paramref name="offset"/>; a short count means end of file.</summary>
    Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead);
}

/// <summary>An open file that can be written.</summary>
public interface IHandleWrite : IFileHandle
{
    /// <summary>write: writes <paramref name="data"/> at <paramref name="offset"/>.</summary>
    Errno Write(FuseContext context, long offset, ReadOnlySpan<byte> data, out int bytesWritten);
}

/// <summary>An open file told about each close(2) of a descriptor for it.</summary>
public interface IHandleFlush : IFileHandle
{
    /// <summary>
    /// flush: a descriptor was closed. POSIX says closing any descriptor releases the process's
    /// record locks on the file: a file system that implements <see cref="IHandleLocks"/> releases
    /// <paramref name="lockOwner"/>'s locks here.
    /// </summary>
    Errno Flush(FuseContext context, ulong lockOwner);
}

/// <summary>An open file that can be synced to stable storage.</summary>
public interface IHandleFsync : IFileHandle
{
    /// <summary>fsync/fdatasync (or fsync on a directory handle).</summary>
    Errno Fsync(FuseContext context, bool dataOnly);
}

/// <summary>An open file told when its last descriptor goes away.</summary>
public interface IHandleRelease : IFileHandle
{
    /// <summary>release/releasedir: no more operations will use this handle.</summary>
    void Release(FuseContext context);
}

/// <summary>
/// An open file whose POSIX record locks the file system decides (fcntl F_GETLK/F_SETLK/F_SETLKW,
/// and OFD locks). <see cref="Locking.PosixLockSet"/> implements the POSIX rules for files whose locks
/// live in memory.
/// </summary>
public interface IHandleLocks : IFileHandle
{
    /// <summary>getlk: reports a lock that would conflict with <paramref name="request"/>, or one of type <see cref="LockType.Unlock"/>.</summary>
    Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict);

    /// <summary>
    /// setlk/setlkw: acquires, changes or releases a lock. Without <paramref name="wait"/>, a conflict is
    /// <see cref="Errno.EAGAIN"/> and the call must complete synchronously. With it, the call may
    /// complete later (without holding a reader thread); <paramref name="cancellationToken"/> fires
    /// when the caller is interrupted, and the result should then be <see cref="Errno.EINTR"/>.
    /// </summary>
    ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken);
}

/// <summary>An open file whose space can be allocated or punched (fallocate).</summary>
public interface IHandleAllocate : IFileHandle
{
    /// <summary>fallocate: <paramref name="mode"/> is fallocate(2)'s mode (0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, ...).</summary>
    Errno Allocate(FuseContext context, long offset, long length, int mode);
}

/// <summary>An open file that knows its holes (lseek SEEK_DATA/SEEK_HOLE).</summary>
public interface IHandleSeek : IFileHandle
{
    /// <summary>lseek: only SEEK_DATA (3) and SEEK_HOLE (4) reach the file system.</summary>
    Errno Seek(FuseContext context, long offset, int whence, out long result);
}

/// <summary>An open directory.</summary>
public interface IDirectoryHandle : IFileHandle
{
    /// <summary>
    /// readdir/readdirplus: adds entries that come after <paramref name="offset"/> (0 = from the
    /// start; otherwise an offset this handle gave as an entry's next offset) until the writer is full
    /// or the directory ends.
    /// </summary>
    Errno ReadDirectory(FuseContext context, long offset, ref DirectoryWriter writer);
}
