using System.Buffers;
using System.Diagnostics;
using LiteFs.Core.Locking;
using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// How long the node's write lock waits for read marks in use before it holds off new readers
    /// (WAL mode): long enough that readers are not shut out by a stream of applies, short enough
    /// that applies keep up while readers read without pause.
    /// </summary>
    private static readonly TimeSpan ReaderGrace = TimeSpan.FromMilliseconds(2);

    /// <summary>A wait for the internal write lock this long is logged once, with who holds what.</summary>
    private static readonly TimeSpan SlowLockReport = TimeSpan.FromSeconds(1);

    private static ulong NewInternalOwner() => (ulong)Interlocked.Increment(ref s_nextInternalOwner);

    /// <summary>
    /// Upstream's internal write lock: no SQLite connection reads or writes until it is released.
    /// In rollback mode RESERVED, PENDING and SHARED are held exclusively (PENDING first, kept while
    /// waiting, so new readers are held off while the current ones drain). In WAL mode a connection
    /// keeps SHARED for as long as it is open, so SHARED is held shared, and WRITE, CKPT, RECOVER and
    /// READ0..4 exclusively: WRITE first with nothing else held, then the others, each kept once
    /// taken while the others are waited for, and none given to new readers meanwhile (DMS
    /// shared). With <paramref name="holdOffReaders"/> (a caller that rewrites the SHM header
    /// before it releases the lock), a WAL read mark that stays in use past the grace also gets
    /// the header made to need recovery, which holds off readers that share the mark within one
    /// process. Waits without limit unless <paramref name="timeout"/> is given.
    /// </summary>
    internal LockSet AcquireWriteLock(CancellationToken cancellationToken, TimeSpan? timeout = null, bool holdOffReaders = false)
    {
        var owner = NewInternalOwner();
        var deadline = timeout is { } t ? Deadline(_host.Time, t) : long.MaxValue;
        var set = new LockSet(this, owner);
        if (Mode == JournalMode.Rollback)
        {
            RetryUntil(() => Locks.TryLock([Locks.Pending], owner, LockRequest.Write) == LockResult.Ok, deadline, cancellationToken, set);
            RetryUntil(() => AllOrNothing(owner, LockRequest.Write, Locks.Reserved, Locks.Shared), deadline, cancellationToken, set);
            return set;
        }
        RetryUntil(() =>
        {
            if (Locks.TryLock([Locks.Pending], owner, LockRequest.Read) != LockResult.Ok)
            {
                return false;
            }
            var shared = Locks.TryLock([Locks.Shared], owner, LockRequest.Read) == LockResult.Ok;
            Locks.ReleaseAll([Locks.Pending], owner);
            return shared;
        }, deadline, cancellationToken, set);
        // WAL mode has no PENDING byte, so the node makes its own: WRITE first (as SQLite orders
        // them), then each of the others kept once taken, and once the node has waited
        // ReaderGrace, a read mark still in use gets no new readers until the node has it. A reader holds its mark for one read transaction, so the marks drain;
        // readers starting meanwhile wait (SQLite retries a read mark for about 10 s). Taking all
        // or none would starve behind readers that never pause; gating at once would starve the
        // readers behind a stream of applies (each gate leaves them only the gap to the next).
        RwLock[] exclusive = [Locks.Write, Locks.Ckpt, Locks.Recover, .. Locks.Read];
        var held = new bool[exclusive.Length];
        var heldOff = false;
        var started = Stopwatch.GetTimestamp();
        var reported = false;
        RetryUntil(() =>
        {
            var waited = Stopwatch.GetElapsedTime(started);
            var gate = waited >= ReaderGrace;
            if (!reported && waited >= SlowLockReport)
            {
                reported = true;
                DbLog.WriteLockSlow(_log, Name, waited.TotalMilliseconds, owner, Locks.Describe([.. exclusive, Locks.Dms]));
            }
            // WRITE first, holding nothing else meanwhile: SQLite takes WRITE before the other
            // WAL locks (recovery, and a connection that failed mid-transaction still holds it
            // while it retries its read locks), so a node holding read marks while it waited
            // for WRITE would deadlock with it until SQLite gave up after 10 s.
            if (!held[0])
            {
                held[0] = gate
                    ? Locks.TryExclusiveOrWait(exclusive[0], owner)
                    : Locks.TryLock([exclusive[0]], owner, LockRequest.Write) == LockResult.Ok;
                if (!held[0])
                {
                    return false;
                }
            }
            var all = true;
            for (var i = 1; i < exclusive.Length; i++)
            {
                held[i] = held[i] || (gate
                    ? Locks.TryExclusiveOrWait(exclusive[i], owner)
                    : Locks.TryLock([exclusive[i]], owner, LockRequest.Write) == LockResult.Ok);
                all &= held[i];
            }
            // Threads of one process share its read mark without asking the node again, so the
            // gate alone cannot stop them; a header that needs recovery can (the caller rewrites it).
            if (gate && holdOffReaders && !heldOff && !all && held[0] && held[2])
            {
                HoldOffShmReaders();
                heldOff = true;
            }
            return all && Locks.TryLock([Locks.Dms], owner, LockRequest.Read) == LockResult.Ok;
        }, deadline, cancellationToken, set, maxDelayMs: 1);
        return set;
    }

    /// <summary>
    /// With the node holding WRITE and RECOVER in WAL mode: no SQLite connection, in any process,
    /// starts a read transaction until the SHM header is rewritten (see
    /// <see cref="ShmHeaderWriter.HoldOffReaders"/>), so the read marks in use drain even when
    /// threads of one process share them without pause.
    /// </summary>
    private void HoldOffShmReaders()
    {
        SyncShmWithKernel();
        using (EnterSync())
        {
            if (Handle(DbFileKind.Shm, create: false) is not { } shm)
            {
                return;
            }
            _shm.HoldOffReaders(shm);
        }
        SyncShmWithKernel();
    }

    /// <summary>
    /// Waits until no SQLite transaction is writing (the WAL write lock in WAL mode, RESERVED in
    /// rollback mode) and holds that lock until the result is disposed: a handoff records what
    /// the last writer committed once it is done. Readers are not waited for.
    /// </summary>
    internal LockSet AcquireWriterLock(CancellationToken cancellationToken, TimeSpan timeout)
    {
        var owner = NewInternalOwner();
        var set = new LockSet(this, owner);
        var writer = Mode == JournalMode.Rollback ? Locks.Reserved : Locks.Write;
        RetryUntil(() => Locks.TryLock([writer], owner, LockRequest.Write) == LockResult.Ok, Deadline(_host.Time, timeout), cancellationToken, set);
        return set;
    }

    /// <summary>Takes every lock of <paramref name="locks"/>, or none of them.</summary>
    private bool AllOrNothing(ulong owner, LockRequest request, params RwLock[] locks)
    {
        if (Locks.TryLock(locks, owner, request) == LockResult.Ok)
        {
            return true;
        }
        Locks.ReleaseAll(locks, owner);
        return false;
    }

    /// <summary>
    /// Takes the locks a consistent read of the database needs while SQLite keeps writing: SHARED
    /// (no rollback-journal commit can happen), and shared CKPT and READ0..4 (no checkpoint copies
    /// WAL frames into the database file, and the WAL is not restarted).
    /// </summary>
    internal LockSet AcquireReadLock(CancellationToken cancellationToken)
    {
        var owner = NewInternalOwner();
        var set = new LockSet(this, owner);
        RetryUntil(() =>
        {
            if (Locks.TryLock([Locks.Pending], owner, LockRequest.Read) != LockResult.Ok)
            {
                return false;
            }
            var ok = Locks.TryLock([Locks.Shared, Locks.Ckpt, .. Locks.Read], owner, LockRequest.Read) == LockResult.Ok;
            Locks.ReleaseAll(ok ? [Locks.Pending] : [Locks.Pending, Locks.Shared, Locks.Ckpt, .. Locks.Read], owner);
            return ok;
        }, long.MaxValue, cancellationToken, set);
        return set;
    }

    /// <summary>The <paramref name="time"/> timestamp <paramref name="timeout"/> from now.</summary>
    private static long Deadline(TimeProvider time, TimeSpan timeout)
    {
        var ticks = (double)timeout.Ticks / TimeSpan.TicksPerSecond * time.TimestampFrequency;
        var now = time.GetTimestamp();
        return ticks >= long.MaxValue - now ? long.MaxValue : now + (long)ticks;
    }

    /// <summary>
    /// Calls <paramref name="attempt"/> until it succeeds, or throws once the host's clock passed
    /// <paramref name="deadline"/> (a timestamp) or the token is cancelled. The sleeps between
    /// attempts (at most <paramref name="maxDelayMs"/> milliseconds) only pace the polling.
    /// </summary>
    private void RetryUntil(Func<bool> attempt, long deadline, CancellationToken cancellationToken, LockSet set, int maxDelayMs = 16)
    {
        var delay = 0;
        while (!attempt())
        {
            if (cancellationToken.IsCancellationRequested || (deadline != long.MaxValue && _host.Time.GetTimestamp() >= deadline))
            {
                set.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException("context deadline exceeded");
            }
            // SQLite holds its locks for microseconds to milliseconds: poll fast, then back off.
            if (delay == 0)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(delay);
            }
            delay = delay == 0 ? 1 : Math.Min(delay * 2, maxDelayMs);
        }
    }

    /// <summary>Locks the node took on a database; disposing releases all of them.</summary>
    internal sealed class LockSet(Db db, ulong owner) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                db.Locks.ReleaseAll([.. db.Locks.AllDatabaseLocks, .. db.Locks.AllShmLocks], owner);
            }
        }
    }

    /// <summary>Names of files being received; removed at start-up.</summary>
    internal const string ReceivingPrefix = ".recv.";

    /// <summary>Logs a write refused on a replica (at most one line every 5 s per database) and returns the exception to throw.</summary>
    private LiteFsException Refused(LiteFsException ex)
    {
        var now = _host.Time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRefusalLog);
        if ((last == 0 || _host.Time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(5)) && Interlocked.CompareExchange(ref _lastRefusalLog, now, last) == last)
        {
            DbLog.WriteRefused(_log, Name, ex.Message);
        }
        return ex;
    }

    /// <summary>The stored LTX file holding exactly transaction <paramref name="txid"/>, or null if retention removed it.</summary>
    public string? LtxFilePath(TxId txid)
    {
        if (_ltxRangeEnds.TryGetValue(txid.Value, out var max))
        {
            var ranged = System.IO.Path.Combine(LtxDir, LtxFileName.Format(txid, new TxId(max)));
            if (File.Exists(ranged))
            {
                return ranged;
            }
            _ltxRangeEnds.TryRemove(txid.Value, out _);
        }
        var path = System.IO.Path.Combine(LtxDir, LtxFileName.Format(txid, txid));
        return File.Exists(path) ? path : null;
    }

    /// <summary>Notes a stored file's TXID range when it holds several transactions.</summary>
    internal void NoteLtxRange(TxId min, TxId max)
    {
        if (min.Value > 1 && max.Value > min.Value)
        {
            _ltxRangeEnds[min.Value] = max.Value;
        }
    }

    /// <summary>
    /// Receives one streamed LTX file on a replica and applies it (<see cref="ReplicaApplier.Receive"/>).
    /// </summary>
    /// <returns>The applied file's header; or null when the file came from this node and was skipped.</returns>
    public LtxHeader? ReceiveLtx(ChunkedReadStream payload, CancellationToken cancellationToken) => _applier.Receive(payload, cancellationToken);
}
