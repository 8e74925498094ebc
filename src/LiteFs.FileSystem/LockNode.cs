using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.FileSystem;

/// <summary>
/// <c>NAME-lock</c>: the HALT lock (a blocking write lock on byte 72) that lets a process on any
/// node write. Each open file is a <see cref="LockHandle"/> with a lock ID of its own. On the
/// primary, taking the lock succeeds at once and does nothing; on a replica it borrows the
/// primary's HALT lock (<see cref="Store.AcquireHaltAsync"/>). Reads return nothing and
/// writes fail.
/// </summary>
internal sealed class LockNode(LiteFsFileSystem fs, string database)
    : EntryNode(fs, database, EntryKind.Lock), INodeOpen
{
    /// <summary>The byte SQLite-unaware clients (litefs-go, <c>litefs run</c>) lock for the HALT lock.</summary>
    internal const ulong HaltByte = 72;

    public override bool Exists => Db is not null;

    internal Store Store => Fs.Store;

    internal Db? CurrentDb => Db;

    internal Microsoft.Extensions.Logging.ILogger Log => Fs.Log;

    public override Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        attributes = Base(Permissions.ReadOnly, 0);
        return Exists ? Errno.Ok : Errno.ENOENT;
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        result = OpenResult.For(new LockHandle(this), OpenOptions.DirectIo);
        return Exists ? Errno.Ok : Errno.ENOENT;
    }
}

/// <summary>
/// One open file of <c>NAME-lock</c>: its own random lock ID, and whether it holds or waits for
/// the HALT lock. Unlocking byte 72 or closing the file releases what it holds and cancels what
/// it waits for.
/// </summary>
/// <remarks>Threading: <see cref="_state"/> and <see cref="_pending"/> are owned by <see cref="_lock"/>; the remote calls run outside it.</remarks>
internal sealed class LockHandle : IHandleRead, IHandleWrite, IHandleLocks, IHandleFsync, IHandleFlush, IHandleRelease
{
    private readonly LockNode _node;
    private readonly long _id;
    private readonly Lock _lock = new();

    /// <summary>None, waiting for the lock, or holding it. _lock.</summary>
    private HaltState _state;

    /// <summary>Cancels the acquisition under way. _lock.</summary>
    private CancellationTokenSource? _pending;

    /// <summary>The file was closed. _lock.</summary>
    private bool _closed;

    /// <summary>The lock owner that took the lock (per process for POSIX locks, per open file for OFD locks). _lock.</summary>
    private ulong _owner;

    public LockHandle(LockNode node)
    {
        _node = node;
        // A non-negative 63-bit ID, never zero (the primary refuses zero).
        Span<byte> bytes = stackalloc byte[8];
        do
        {
            Posix.FillRandom(bytes);
            _id = (long)(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes) >> 1);
        }
        while (_id == 0);
    }

    private enum HaltState
    {
        None,
        Waiting,
        Held,
    }

    /// <summary>This open file's lock ID.</summary>
    internal long Id => _id;

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

    public Errno Fsync(FuseContext context, bool dataOnly) => Errno.EIO;

    public Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict)
    {
        if (request.Start != LockNode.HaltByte || request.End != LockNode.HaltByte)
        {
            conflict = request with { Type = LockType.Unlock };
            return Errno.EINVAL;
        }
        // Held from the primary by any file of this node: reported as a write lock of no process.
        var held = _node.CurrentDb?.Halt.Remote is not null;
        conflict = held ? request with { Type = LockType.Write, Pid = 0 } : request with { Type = LockType.Unlock };
        return Errno.Ok;
    }

    public async ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken)
    {
        if (request.Type == LockType.Unlock && request.Start <= LockNode.HaltByte && request.End >= LockNode.HaltByte
            && (request.Start != LockNode.HaltByte || request.End != LockNode.HaltByte))
        {
            // The kernel releasing every lock of an owner (a close): the HALT lock goes only with
            // the owner that took it.
            return await ReleaseAsync(request.Owner).ConfigureAwait(false);
        }
        if (request.Start != LockNode.HaltByte || request.End != LockNode.HaltByte)
        {
            return Errno.EINVAL;
        }
        if (request.Type == LockType.Unlock)
        {
            return await ReleaseAsync(owner: null).ConfigureAwait(false);
        }
        if (request.Type == LockType.Read || !wait)
        {
            return Errno.ENOSYS;
        }
        if (_node.CurrentDb is not { } db)
        {
            return Errno.ENOENT;
        }
        CancellationTokenSource pending;
        lock (_lock)
        {
            if (_state != HaltState.None || _closed)
            {
                return Errno.ENOLCK;
            }
            _state = HaltState.Waiting;
            _owner = request.Owner;
            pending = _pending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }
        try
        {
            await _node.Store.AcquireHaltAsync(db, _id, pending.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or LiteFsException)
        {
            lock (_lock)
            {
                _state = HaltState.None;
                _pending = null;
            }
            pending.Dispose();
            return ex switch
            {
                // Interrupted (a signal), or the file was closed meanwhile.
                OperationCanceledException when cancellationToken.IsCancellationRequested || IsClosed => Errno.EINTR,
                OperationCanceledException => Errno.EAGAIN,
                _ => Failed((LiteFsException)ex),
            };
        }
        bool closedMeanwhile;
        lock (_lock)
        {
            _pending = null;
            closedMeanwhile = _closed;
            _state = closedMeanwhile ? HaltState.None : HaltState.Held;
        }
        pending.Dispose();
        if (closedMeanwhile)
        {
            await GiveBackAsync(db).ConfigureAwait(false);
            return Errno.EINTR;
        }
        return Errno.Ok;
    }

    private bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closed;
            }
        }
    }

    /// <summary>Logs a failed acquisition and maps it to its errno.</summary>
    private Errno Failed(LiteFsException ex)
    {
        FileSystemLog.HaltFailed(_node.Log, _node.CurrentDb?.Name ?? "", ex.Message);
        return Errno.EIO;
    }

    /// <summary>
    /// A descriptor was closed: the lock goes if <paramref name="lockOwner"/> took it (the process
    /// that holds a POSIX lock closed a descriptor of the file). A child that inherited the
    /// descriptor and exits does not take the parent's lock with it; an OFD lock ends when its
    /// open file does (<see cref="Release"/>).
    /// </summary>
    public Errno Flush(FuseContext context, ulong lockOwner) => ReleaseAsync(lockOwner).AsTask().GetAwaiter().GetResult();

    public void Release(FuseContext context)
    {
        lock (_lock)
        {
            _closed = true;
        }
        _ = ReleaseAsync(owner: null).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Cancels a pending acquisition; gives back a lock held. A handle that holds nothing releases
    /// nothing; with <paramref name="owner"/>, only what that lock owner took.
    /// </summary>
    private async ValueTask<Errno> ReleaseAsync(ulong? owner)
    {
        bool held;
        lock (_lock)
        {
            if (owner is { } o && o != _owner)
            {
                return Errno.Ok;
            }
            _pending?.Cancel();
            held = _state == HaltState.Held;
            if (held)
            {
                _state = HaltState.None;
            }
        }
        if (!held || _node.CurrentDb is not { } db)
        {
            return Errno.Ok;
        }
        return await GiveBackAsync(db).ConfigureAwait(false);
    }

    private async ValueTask<Errno> GiveBackAsync(Db db)
    {
        try
        {
            await _node.Store.ReleaseHaltAsync(db, _id, CancellationToken.None).ConfigureAwait(false);
            return Errno.Ok;
        }
        catch (LiteFsException ex)
        {
            FileSystemLog.HaltReleaseFailed(_node.Log, db.Name, ex.Message);
            return Errno.EIO;
        }
    }
}
