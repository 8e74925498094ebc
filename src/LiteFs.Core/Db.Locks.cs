using LiteFs.Core.Locking;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>Owner used by the node's own operations (apply, recovery), never a FUSE lock owner.</summary>
    internal const ulong InternalOwner = ulong.MaxValue;

    /// <summary>
    /// A non-blocking POSIX lock request on the database file or the SHM file, covering the
    /// bytes [<paramref name="start"/>, <paramref name="end"/>]. Releasing the WAL write lock held
    /// exclusively commits the WAL transaction first.
    /// </summary>
    public LockResult Lock(DbFileKind kind, ulong owner, LockRequest request, long start, long end)
    {
        var locks = LocksIn(kind, start, end);
        if (request == LockRequest.Unlock && kind == DbFileKind.Shm && start <= DbLocks.ShmWriteByte && end >= DbLocks.ShmWriteByte)
        {
            BeforeWriteLockRelease(owner);
        }
        return Locks.TryLock(locks, owner, request);
    }

    /// <summary>For <c>F_GETLK</c>: the type of a lock that would block the request, or null.</summary>
    public LockRequest? QueryLock(DbFileKind kind, ulong owner, LockRequest request, long start, long end) =>
        Locks.Query(LocksIn(kind, start, end), owner, request);

    /// <summary>A descriptor was closed: release everything <paramref name="owner"/> holds on that file.</summary>
    public void ReleaseOwner(DbFileKind kind, ulong owner)
    {
        if (kind == DbFileKind.Shm)
        {
            BeforeWriteLockRelease(owner);
            Locks.ReleaseAll(Locks.AllShmLocks, owner);
        }
        else if (kind == DbFileKind.Database)
        {
            Locks.ReleaseAll(Locks.AllDatabaseLocks, owner);
        }
    }

    private RwLock[] LocksIn(DbFileKind kind, long start, long end) => kind switch
    {
        DbFileKind.Database => Locks.DatabaseLocksIn(start, end).ToArray(),
        DbFileKind.Shm => Locks.ShmLocksIn(start, end).ToArray(),
        _ => [],
    };

    /// <summary>
    /// Takes the full internal write lock (all of SQLite's locks for the mode), retrying with
    /// backoff while SQLite connections hold conflicting ones, for at most <paramref name="timeout"/> (null: no limit).
    /// </summary>
    internal bool AcquireWriteLock(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        var started = _host.Time.GetTimestamp();
        for (var attempt = 0; ; attempt++)
        {
            if (TryAcquireWriteLock())
            {
                return true;
            }
            if (timeout is { } t && _host.Time.GetElapsedTime(started) >= t)
            {
                return false;
            }
            cancellationToken.ThrowIfCancellationRequested();
            // 1 ms, then growing to 500 ms: short waits for a passing reader, no busy loop for a long one.
            Thread.Sleep(Math.Min(500, attempt == 0 ? 1 : 1 << Math.Min(attempt, 9)));
        }
    }

    /// <summary>Releases the internal write lock.</summary>
    internal void ReleaseWriteLock()
    {
        Locks.ReleaseAll(Locks.AllDatabaseLocks, InternalOwner);
        Locks.ReleaseAll(Locks.AllShmLocks, InternalOwner);
    }

    private bool TryAcquireWriteLock()
    {
        lock (Locks.Sync)
        {
            var ok = Locks.Pending.TryShared(InternalOwner) && Locks.Shared.TryShared(InternalOwner);
            Locks.Pending.Unlock(InternalOwner);
            ok = ok && Locks.Reserved.TryExclusive(InternalOwner) && Locks.Pending.TryExclusive(InternalOwner) && Locks.Shared.TryExclusive(InternalOwner);
            if (ok && Mode == JournalMode.Wal)
            {
                ok = Locks.Dms.TryShared(InternalOwner) && Locks.Write.TryExclusive(InternalOwner) && Locks.Ckpt.TryExclusive(InternalOwner)
                    && Locks.Recover.TryExclusive(InternalOwner) && Locks.Read.All(r => r.TryExclusive(InternalOwner));
            }
            if (!ok)
            {
                ReleaseWriteLock();
            }
            return ok;
        }
    }
}
