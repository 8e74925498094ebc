namespace LiteFs.Core.Locking;

/// <summary>The kind of a POSIX lock request.</summary>
public enum LockRequest
{
    /// <summary>A read (shared) lock.</summary>
    Read,

    /// <summary>A write (exclusive) lock.</summary>
    Write,

    /// <summary>Release.</summary>
    Unlock,
}

/// <summary>The outcome of a lock request, mapped to an errno by the file system layer.</summary>
public enum LockResult
{
    /// <summary>Granted.</summary>
    Ok,

    /// <summary>A conflicting lock is held (EAGAIN).</summary>
    WouldBlock,
}

/// <summary>
/// The SQLite locks of one database, shared by every process using the mount and by the node's
/// own operations: the database file's PENDING/RESERVED/SHARED bytes and the SHM file's WAL
/// locks. A request covering a byte range applies to every lock byte inside it.
/// </summary>
internal sealed class DbLocks
{
    public const long PendingByte = 0x40000000;
    public const long ReservedByte = PendingByte + 1;
    public const long SharedFirst = PendingByte + 2;
    public const int SharedSize = 510;
    public const long ShmWriteByte = 120;
    public const long ShmCkptByte = 121;
    public const long ShmRecoverByte = 122;
    public const long ShmRead0Byte = 123;
    public const int ShmReaderCount = 5;
    public const long ShmDmsByte = 128;

    private readonly object _sync = new();

    public RwLock Pending { get; } = new("PENDING");
    public RwLock Reserved { get; } = new("RESERVED");
    public RwLock Shared { get; } = new("SHARED");
    public RwLock Write { get; } = new("WRITE");
    public RwLock Ckpt { get; } = new("CKPT");
    public RwLock Recover { get; } = new("RECOVER");
    public RwLock[] Read { get; } = [new("READ0"), new("READ1"), new("READ2"), new("READ3"), new("READ4")];
    public RwLock Dms { get; } = new("DMS");

    /// <summary>The state of <paramref name="locks"/>, for a log line.</summary>
    public string Describe(IEnumerable<RwLock> locks)
    {
        lock (_sync)
        {
            return string.Join("; ", locks.Select(l => l.Describe()));
        }
    }

    /// <summary>The monitor that serialises every lock change of this database.</summary>
    public object Sync => _sync;

    /// <summary>The database-file locks whose bytes lie in [<paramref name="start"/>, <paramref name="end"/>].</summary>
    public IEnumerable<RwLock> DatabaseLocksIn(long start, long end)
    {
        if (In(PendingByte, start, end))
        {
            yield return Pending;
        }
        if (In(ReservedByte, start, end))
        {
            yield return Reserved;
        }
        if (In(SharedFirst, start, end))
        {
            yield return Shared;
        }
    }

    /// <summary>The SHM locks whose bytes lie in [<paramref name="start"/>, <paramref name="end"/>].</summary>
    public IEnumerable<RwLock> ShmLocksIn(long start, long end)
    {
        if (In(ShmWriteByte, start, end))
        {
            yield return Write;
        }
        if (In(ShmCkptByte, start, end))
        {
            yield return Ckpt;
        }
        if (In(ShmRecoverByte, start, end))
        {
            yield return Recover;
        }
        for (var i = 0; i < Read.Length; i++)
        {
            if (In(ShmRead0Byte + i, start, end))
            {
                yield return Read[i];
            }
        }
        if (In(ShmDmsByte, start, end))
        {
            yield return Dms;
        }
    }

    /// <summary>
    /// Applies a read or write request to each lock in order; on the first conflict returns
    /// <see cref="LockResult.WouldBlock"/>, keeping the locks taken before it (as upstream does:
    /// SQLite only ever asks for one lock byte range that maps to one lock at a time).
    /// </summary>
    public LockResult TryLock(IEnumerable<RwLock> locks, ulong owner, LockRequest request)
    {
        lock (_sync)
        {
            foreach (var l in locks)
            {
                var ok = request switch
                {
                    LockRequest.Read => l.TryShared(owner),
                    LockRequest.Write => !BlockedCheckpoint(l, owner) && l.TryExclusive(owner),
                    _ => Release(l, owner),
                };
                if (!ok)
                {
                    return LockResult.WouldBlock;
                }
            }
            return LockResult.Ok;
        }
    }

    /// <summary>
    /// For <c>F_GETLK</c>: the conflicting lock type a request would meet, or null. A read
    /// request conflicts with an exclusive holder; a write request with any other holder.
    /// </summary>
    public LockRequest? Query(IEnumerable<RwLock> locks, ulong owner, LockRequest request)
    {
        lock (_sync)
        {
            foreach (var l in locks)
            {
                if (request == LockRequest.Read && !l.CanShare(owner))
                {
                    return LockRequest.Write;
                }
                if (request == LockRequest.Write && !l.CanExclusive(owner))
                {
                    return l.IsExclusive ? LockRequest.Write : LockRequest.Read;
                }
            }
            return null;
        }
    }

    /// <summary>
    /// Takes <paramref name="l"/> exclusively for <paramref name="owner"/>, or else holds off new
    /// shared holders until it can (<see cref="RwLock.TryExclusiveOrWait"/>); the wait ends with
    /// the lock taken or released.
    /// </summary>
    public bool TryExclusiveOrWait(RwLock l, ulong owner)
    {
        lock (_sync)
        {
            return !BlockedCheckpoint(l, owner) && l.TryExclusiveOrWait(owner);
        }
    }

    /// <summary>Releases every lock of <paramref name="locks"/> held by <paramref name="owner"/>.</summary>
    public void ReleaseAll(IEnumerable<RwLock> locks, ulong owner)
    {
        lock (_sync)
        {
            foreach (var l in locks)
            {
                l.Unlock(owner);
            }
        }
    }

    /// <summary>All database-file locks.</summary>
    public IEnumerable<RwLock> AllDatabaseLocks => [Pending, Reserved, Shared];

    /// <summary>All SHM locks.</summary>
    public IEnumerable<RwLock> AllShmLocks => [Write, Ckpt, Recover, .. Read, Dms];

    // A checkpoint must not copy WAL frames that are not in an LTX file yet: exclusive CKPT is
    // refused while anyone else holds WRITE.
    private bool BlockedCheckpoint(RwLock l, ulong owner) =>
        ReferenceEquals(l, Ckpt) && Write.IsHeld && Write.ModeOf(owner) != LockMode.Exclusive;

    private static bool Release(RwLock l, ulong owner)
    {
        l.Unlock(owner);
        return true;
    }

    private static bool In(long b, long start, long end) => b >= start && b <= end;
}
