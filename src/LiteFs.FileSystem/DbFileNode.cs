using LiteFs.Core;
using LiteFs.Core.Locking;
using LiteFs.Fuse;

namespace LiteFs.FileSystem;

/// <summary>
/// A database's SQLite file (the database, <c>-journal</c>, <c>-wal</c> or <c>-shm</c>): reads
/// pass through to the real file; writes, truncation, syncs and locks go through the node's
/// database, which turns committed transactions into LTX files.
/// </summary>
internal sealed class DbFileNode(LiteFsFileSystem fs, string database, EntryKind kind)
    : EntryNode(fs, database, kind), INodeOpen, INodeSetAttributes, IHandleRead, IHandleWrite, IHandleFlush, IHandleFsync, IHandleLocks
{
    private readonly DbFileKind _file = Names.FileKind(kind)!.Value;

    public override bool Exists => Db is { } db && db.Exists(_file);

    public override Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        var db = Db;
        var size = db?.Size(_file) ?? -1;
        var mode = Kind == EntryKind.Database && !Fs.Store.IsPrimary ? Permissions.ReadOnly : Permissions.ReadWrite;
        attributes = Base(mode, size);
        return size < 0 ? Errno.ENOENT : Errno.Ok;
    }

    public Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes)
    {
        if (request.Has(SetAttributesFields.Size))
        {
            RequireDb().Truncate(_file, (long)request.Size);
        }
        // Modes, owners and times of database files are the node's, not the caller's.
        return GetAttributes(context, null, out attributes);
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        result = OpenResult.For(this, OpenOptions.KeepCache);
        if (!Exists)
        {
            return Errno.ENOENT;
        }
        const int OTrunc = 0x200;
        if ((flags & OTrunc) != 0)
        {
            RequireDb().Truncate(_file, 0);
        }
        if (_file == DbFileKind.Wal && Fs.PassthroughEnabled)
        {
            result.PassthroughFd = RequireDb().PassthroughDescriptor(DbFileKind.Wal, out var onlyIfInUse);
            result.ClosePassthroughFd = true;
            result.PassthroughOnlyIfInUse = onlyIfInUse;
        }
        return Errno.Ok;
    }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = RequireDb().Read(_file, buffer, offset);
        return Errno.Ok;
    }

    public Errno Write(FuseContext context, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        RequireDb().Write(_file, data, offset);
        bytesWritten = data.Length;
        return Errno.Ok;
    }

    public Errno Flush(FuseContext context, ulong lockOwner)
    {
        Db?.ReleaseOwner(_file, lockOwner);
        return Errno.Ok;
    }

    public Errno Fsync(FuseContext context, bool dataOnly)
    {
        RequireDb().Sync(_file);
        return Errno.Ok;
    }

    public Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict)
    {
        conflict = request with { Type = LockType.Unlock };
        if (!HasSqliteLocks)
        {
            return Errno.ENOSYS;
        }
        var blocker = RequireDb().QueryLock(_file, request.Owner, ToRequest(request.Type), (long)request.Start, End(request));
        if (blocker is { } type)
        {
            // The holder is not a process the caller could know: pid -1, as upstream reports it.
            conflict = request with { Type = type == LockRequest.Write ? LockType.Write : LockType.Read, Pid = uint.MaxValue };
        }
        return Errno.Ok;
    }

    public ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken)
    {
        // SQLite only ever asks without waiting; blocking requests on these files are not supported.
        if (!HasSqliteLocks || (wait && request.Type != LockType.Unlock))
        {
            return ValueTask.FromResult(Errno.ENOSYS);
        }
        var result = RequireDb().Lock(_file, request.Owner, ToRequest(request.Type), (long)request.Start, End(request));
        return ValueTask.FromResult(result == LockResult.Ok ? Errno.Ok : Errno.EAGAIN);
    }

    private bool HasSqliteLocks => Kind is EntryKind.Database or EntryKind.Shm;

    private static long End(in FileLock request) => request.End >= long.MaxValue ? long.MaxValue : (long)request.End;

    private static LockRequest ToRequest(LockType type) => type switch
    {
        LockType.Read => LockRequest.Read,
        LockType.Write => LockRequest.Write,
        _ => LockRequest.Unlock,
    };

    private Db RequireDb() => Db ?? throw new LiteFsException(LiteFsError.NotFound, $"no database {Database}");
}
