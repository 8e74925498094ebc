using LiteFs.Ltx;
using Microsoft.Extensions.Logging;

namespace LiteFs.Core;

/// <summary>A HALT lock as the wire shows it: its ID, the primary's position when granted, and when it expires.</summary>
/// <param name="Id">The lock ID the replica chose (non-zero).</param>
/// <param name="Pos">The primary's position when the lock was granted: the replica catches up to it before writing.</param>
/// <param name="Expires">When the primary releases it on its own, if not released before.</param>
public sealed record HaltLockInfo(long Id, Pos Pos, DateTimeOffset? Expires);

/// <summary>
/// The HALT lock of one database: the cluster-wide write lock that write forwarding borrows.
/// On the primary it is granted to a replica (<see cref="Grant"/>): the node takes the
/// database's whole internal write lock for it, so no local SQLite transaction (nor checkpoint)
/// runs until the replica releases it (<see cref="Release"/>) or it expires
/// (<see cref="ExpireDue"/>, <see cref="Ttl"/> after the grant; it is not renewed). On a replica
/// the lock granted by the primary is recorded (<see cref="RecordRemote"/>) while the
/// replica writes under it; the database is writable there only while a record exists.
/// </summary>
/// <remarks>
/// Threading: every field is owned by <see cref="_lock"/>; <see cref="Remote"/> is read lock-free
/// (one reference). <see cref="Grant"/> waits for the internal write lock outside it, so a
/// release or an expiry check never waits for a grant in progress.
/// </remarks>
public sealed class HaltLock
{
    /// <summary>How long a granted lock lives without a release.</summary>
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    /// <summary>How long a grant waits for local transactions (or another HALT lock) to finish.</summary>
    public static readonly TimeSpan AcquireTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Each attempt to take the internal write lock while a grant waits: the idempotent-retry check runs between attempts.</summary>
    private static readonly TimeSpan AttemptSlice = TimeSpan.FromMilliseconds(50);

    private readonly Db _db;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _lock = new();

    /// <summary>The lock granted to a replica (primary side), with the write lock held for it. _lock.</summary>
    private GrantedLock? _granted;

    /// <summary>The lock the primary granted this node (replica side). Written under _lock; read anywhere.</summary>
    private volatile HaltLockInfo? _remote;

    internal HaltLock(Db db, TimeProvider time, ILogger log)
    {
        _db = db;
        _time = time;
        _log = log;
    }

    /// <summary>The lock granted to a replica, if any (primary side).</summary>
    public HaltLockInfo? Granted
    {
        get
        {
            lock (_lock)
            {
                return _granted?.Info;
            }
        }
    }

    /// <summary>The lock this node holds on the primary's behalf, if any (replica side).</summary>
    public HaltLockInfo? Remote => _remote;

    /// <summary>
    /// Primary side: grants the HALT lock under <paramref name="id"/>. Takes the database's whole
    /// internal write lock, waiting up to <see cref="AcquireTimeout"/> for local transactions or
    /// another HALT lock; a retry with the ID of the lock already granted returns that lock at
    /// once (checked before every attempt). The journal and the WAL are then settled into the
    /// database file (<paramref name="settle"/>), and the lock is recorded with the position.
    /// </summary>
    /// <param name="id">The lock ID the replica chose.</param>
    /// <param name="holder">The replica's node ID: only it may commit under the lock (<see cref="IsHeldBy"/>).</param>
    /// <param name="settle">Brings the database file up to date under the lock (rolls back a hot journal, checkpoints the WAL).</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <exception cref="ArgumentException">The ID is zero.</exception>
    /// <exception cref="TimeoutException">The write lock was not free in time ("context deadline exceeded").</exception>
    public HaltLockInfo Grant(long id, ulong holder, Action<Db>? settle, CancellationToken cancellationToken)
    {
        if (id == 0)
        {
            throw new ArgumentException("halt lock id required", nameof(id));
        }
        var started = _time.GetTimestamp();
        Db.LockSet? locks = null;
        while (locks is null)
        {
            lock (_lock)
            {
                if (_granted is { } existing && existing.Info.Id == id)
                {
                    return existing.Info;
                }
            }
            var left = AcquireTimeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("context deadline exceeded");
            }
            try
            {
                locks = _db.AcquireWriteLock(cancellationToken, left < AttemptSlice ? left : AttemptSlice);
            }
            catch (TimeoutException)
            {
            }
        }
        try
        {
            settle?.Invoke(_db);
            var info = new HaltLockInfo(id, _db.RecordCommitted(), _time.GetUtcNow() + Ttl);
            lock (_lock)
            {
                // The write lock is held: no other grant can have happened meanwhile.
                _granted = new GrantedLock(info, holder, locks);
            }
            DbLog.HaltGranted(_log, _db.Name, id, info.Pos);
            return info;
        }
        catch
        {
            locks.Dispose();
            throw;
        }
    }

    /// <summary>Primary side: whether the lock granted now has <paramref name="id"/> and was granted to <paramref name="holder"/>.</summary>
    public bool IsHeldBy(long id, ulong holder)
    {
        lock (_lock)
        {
            return _granted is { } g && g.Info.Id == id && g.Holder == holder;
        }
    }

    /// <summary>Primary side: releases the granted lock if it has <paramref name="id"/>; otherwise does nothing.</summary>
    /// <returns>Whether a lock was released.</returns>
    public bool Release(long id)
    {
        GrantedLock? released;
        lock (_lock)
        {
            if (_granted is not { } g || g.Info.Id != id)
            {
                return false;
            }
            released = g;
            _granted = null;
        }
        released.Locks.Dispose();
        DbLog.HaltReleased(_log, _db.Name, id);
        return true;
    }

    /// <summary>Primary side: releases the granted lock if its expiry has passed.</summary>
    /// <returns>The ID of the lock that expired, if one did.</returns>
    public long? ExpireDue()
    {
        GrantedLock? expired;
        lock (_lock)
        {
            if (_granted is not { } g || g.Info.Expires is not { } expires || expires > _time.GetUtcNow())
            {
                return null;
            }
            expired = g;
            _granted = null;
        }
        expired.Locks.Dispose();
        DbLog.HaltExpired(_log, _db.Name, expired.Info.Id);
        return expired.Info.Id;
    }

    /// <summary>Replica side: the primary granted this node the lock; the database is writable here until it is cleared.</summary>
    public void RecordRemote(HaltLockInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        lock (_lock)
        {
            _remote = info;
        }
    }

    /// <summary>Replica side: forgets the recorded lock if it has <paramref name="id"/> (null: whatever it is).</summary>
    /// <returns>The record forgotten, if any.</returns>
    public HaltLockInfo? ClearRemote(long? id = null)
    {
        lock (_lock)
        {
            if (_remote is not { } remote || (id is { } wanted && remote.Id != wanted))
            {
                return null;
            }
            _remote = null;
            return remote;
        }
    }

    /// <summary>A lock granted to a replica and the internal write lock held for it.</summary>
    private sealed record GrantedLock(HaltLockInfo Info, ulong Holder, Db.LockSet Locks);
}
