using LiteFs.Core.Locking;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// A non-blocking POSIX lock request on the database file or the SHM file, covering the
    /// bytes [<paramref name="start"/>, <paramref name="end"/>]. Releasing the WAL write lock held
    /// exclusively commits the WAL transaction first.
    /// </summary>
    public LockResult Lock(DbFileKind kind, ulong owner, LockRequest request, long start, long end)
    {
        var locks = LocksIn(kind, start, end);
        if (kind == DbFileKind.Shm)
        {
            if (request == LockRequest.Unlock && start <= DbLocks.ShmWriteByte && end >= DbLocks.ShmWriteByte)
            {
                BeforeWriteLockRelease(owner);
            }
            else if (request == LockRequest.Write)
            {
                if (_passthroughGiven && start <= DbLocks.ShmWriteByte && end >= DbLocks.ShmWriteByte && !_host.IsWritable(this)
                    && Locks.Read.Any(r => r.ModeOf(owner) != LockMode.None))
                {
                    // No longer primary, with WAL descriptors that write past the node: no write
                    // transaction may begin (SQLite sees SQLITE_BUSY). A writer holds a read lock
                    // when it asks; a connection rebuilding the WAL index holds none, and gets it.
                    return LockResult.WouldBlock;
                }
                if (start <= DbLocks.ShmCkptByte && end >= DbLocks.ShmCkptByte)
                {
                    // A checkpoint may begin: its first database write settles the WAL again.
                    _recorder.CheckpointMayBegin();
                }
                if (start <= DbLocks.ShmRead0Byte + 1 && end >= DbLocks.ShmRead0Byte + DbLocks.ShmReaderCount - 1)
                {
                    // READ1..READn together, exclusively: SQLite is about to start a new WAL
                    // generation (its header overwrites the WAL, maybe through passthrough where
                    // the node does not see it) or to truncate the WAL. Everything in the current
                    // one is recorded, durably, first. SQLite holds the WAL write lock: nothing
                    // commits meanwhile, and the sync runs outside the monitor.
                    _recorder.SettleDurably();
                }
            }
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

    private IEnumerable<RwLock> LocksIn(DbFileKind kind, long start, long end) => kind switch
    {
        DbFileKind.Database => Locks.DatabaseLocksIn(start, end),
        DbFileKind.Shm => Locks.ShmLocksIn(start, end),
        _ => [],
    };
}
