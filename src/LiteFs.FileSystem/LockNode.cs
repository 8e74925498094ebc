using LiteFs.Fuse;

namespace LiteFs.FileSystem;

/// <summary>
/// <c>NAME-lock</c>: the HALT lock (byte 72) that lets a process on any node write. On the
/// primary, taking it succeeds at once and does nothing: the primary is always writable.
/// </summary>
internal sealed class LockNode(LiteFsFileSystem fs, string database)
    : EntryNode(fs, database, EntryKind.Lock), INodeOpen, IHandleRead, IHandleWrite, IHandleLocks, IHandleFsync
{
    public Errno Fsync(FuseContext context, bool dataOnly) => Errno.EIO;

    private const ulong HaltByte = 72;

    public override bool Exists => Db is not null;

    public override Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        attributes = Base(Permissions.ReadOnly, 0);
        return Exists ? Errno.Ok : Errno.ENOENT;
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        result = OpenResult.For(this, OpenOptions.DirectIo);
        return Exists ? Errno.Ok : Errno.ENOENT;
    }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        return Errno.Ok;
    }

    public Errno Write(FuseContext context, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        bytesWritten = 0;
        return Errno.EIO;
    }

    public Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict)
    {
        conflict = request with { Type = LockType.Unlock };
        return request.Start == HaltByte && request.End == HaltByte ? Errno.Ok : Errno.EINVAL;
    }

    public ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken)
    {
        if (request.Start != HaltByte || request.End != HaltByte)
        {
            return ValueTask.FromResult(Errno.EINVAL);
        }
        if (request.Type == LockType.Unlock)
        {
            return ValueTask.FromResult(Errno.Ok);
        }
        if (request.Type == LockType.Read || !wait)
        {
            return ValueTask.FromResult(Errno.ENOSYS);
        }
        // Write forwarding from replicas comes with replication; the primary needs no lock.
        return ValueTask.FromResult(Fs.Store.IsPrimary ? Errno.Ok : Errno.EIO);
    }
}
