using System.Buffers;
using LiteFs.Core.Locking;
using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    private static ulong NewInternalOwner() => (ulong)Interlocked.Increment(ref s_nextInternalOwner);

    /// <summary>
    /// Upstream's internal write lock: no SQLite connection reads or writes until it is released.
    /// In rollback mode RESERVED, PENDING and SHARED are held exclusively (PENDING first, kept while
    /// waiting, so new readers are held off while the current ones drain). In WAL mode a connection
    /// keeps SHARED for as long as it is open, so SHARED is held shared, and WRITE, CKPT, RECOVER and
    /// READ0..4 exclusively (DMS shared). Waits without limit unless <paramref name="timeout"/> is given.
    /// </summary>
    internal LockSet AcquireWriteLock(CancellationToken cancellationToken, TimeSpan? timeout = null)
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
        RetryUntil(() =>
        {
            if (!AllOrNothing(owner, LockRequest.Write, [Locks.Write, Locks.Ckpt, Locks.Recover, .. Locks.Read]))
            {
                return false;
            }
            if (Locks.TryLock([Locks.Dms], owner, LockRequest.Read) == LockResult.Ok)
            {
                return true;
            }
            Locks.ReleaseAll([Locks.Write, Locks.Ckpt, Locks.Recover, .. Locks.Read], owner);
            return false;
        }, deadline, cancellationToken, set);
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
    /// attempts only pace the polling.
    /// </summary>
    private void RetryUntil(Func<bool> attempt, long deadline, CancellationToken cancellationToken, LockSet set)
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
            delay = delay == 0 ? 1 : Math.Min(delay * 2, 16);
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
    private const string ReceivingPrefix = ".recv.";

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
    private void NoteLtxRange(TxId min, TxId max)
    {
        if (min.Value > 1 && max.Value > min.Value)
        {
            _ltxRangeEnds[min.Value] = max.Value;
        }
    }

    /// <summary>
    /// Receives one streamed LTX file on a replica: checks the position (unless it is a
    /// snapshot), stores the file while verifying it completely, then takes the write lock,
    /// renames the file into place and applies it (a snapshot is written into a new database
    /// file in the same pass, see <see cref="ReceiveSnapshot"/>). Nothing touches the database
    /// before the whole file verified, and readers are held off only while a verified file is
    /// applied; a cut or corrupt payload leaves no trace. A failure while applying a verified
    /// file is fatal.
    /// </summary>
    /// <returns>The applied file's header; or null when the file came from this node and was skipped.</returns>
    public LtxHeader? ReceiveLtx(ChunkedReadStream payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var headerBytes = new byte[LtxLayout.HeaderSize];
        var read = 0;
        while (read < headerBytes.Length && payload.Read(headerBytes.AsSpan(read)) is var n and > 0)
        {
            read += n;
        }
        if (read < headerBytes.Length)
        {
            throw new StreamProtocolException($"write ltx file: unexpected EOF in the header of an LTX file for {Name}");
        }
        var header = LtxHeader.Read(headerBytes);

        if (header.NodeId == _host.NodeId)
        {
            // Written here and forwarded to the primary: already applied.
            using var skip = new PrefixedStream(headerBytes, payload, null);
            LtxDecoder.Verify(skip);
            return null;
        }
        // Only this replica's stream moves its position, so it is checked before the file is
        // received (a mismatch means a resync: nothing to receive) and again under the lock.
        if (!header.IsSnapshot && Pos != header.PreApplyPos)
        {
            throw new PositionMismatchException(Name, Pos, header.PreApplyPos);
        }
        Directory.CreateDirectory(LtxDir);
        var final = System.IO.Path.Combine(LtxDir, LtxFileName.Format(header.MinTxId, header.MaxTxId));
        LtxFilePool pool;
        using (EnterSync())
        {
            pool = _ltx.Pool;
        }
        // A file made ahead of time: creating one costs more than the rest of a small apply.
        var temp = pool.Take() ?? ReceivingPath(System.IO.Path.GetFileName(final));
        if (header.IsSnapshot && header.Commit > 0)
        {
            return ReceiveSnapshot(headerBytes, header, payload, temp, final, cancellationToken);
        }
        LockSet locks;
        try
        {
            // Received and verified before any lock is taken: a slow or stalled transfer (a
            // large snapshot) never holds up the replica's readers.
            using (var file = new StagedFileWriter(temp))
            {
                using var tee = new PrefixedStream(headerBytes, payload, file);
                LtxDecoder.Verify(tee);
                file.Complete();
            }
            locks = AcquireWriteLock(cancellationToken);
            if (!header.IsSnapshot && Pos != header.PreApplyPos)
            {
                locks.Dispose();
                throw new PositionMismatchException(Name, Pos, header.PreApplyPos);
            }
            File.Move(temp, final, overwrite: true);
            NoteLtxRange(header.MinTxId, header.MaxTxId);
        }
        catch
        {
            DeleteFile(temp);
            throw;
        }

        using var held = locks;
        try
        {
            if (header.IsSnapshot)
            {
                DeleteLtxFilesExcept(final);
            }
            ApplyReceived(() => ApplyLtxFile(final, verified: true, durable: false));
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            throw FatalApply(final, ex);
        }
        return header;
    }

    /// <summary>
    /// Applies a received file under the write lock the caller holds, with the kernel's caches
    /// around it: pages SQLite dirtied through its SHM mapping are written back before the header
    /// is rewritten (or the write-back would restore the old header afterwards), and stale pages
    /// are dropped before any SQLite reader can take a lock again.
    /// </summary>
    private void ApplyReceived(Action apply)
    {
        _host.Invalidator.InvalidateData(Name, DbFileKind.Shm, 0, -1);
        _host.Invalidator.Flush();
        apply();
        _host.Invalidator.Flush();
    }

    /// <summary>A failure applying a received file, which the node cannot continue after: reported, and returned to throw.</summary>
    private FatalDatabaseException FatalApply(string final, Exception ex)
    {
        var fatal = new FatalDatabaseException($"{Name}: cannot apply {System.IO.Path.GetFileName(final)}: {ex.Message}", ex);
        _host.Fatal(fatal);
        return fatal;
    }

    /// <summary>A new name for a file being received into the LTX directory (removed at start-up if left behind).</summary>
    private string ReceivingPath(string name) =>
        System.IO.Path.Combine(LtxDir, $"{ReceivingPrefix}{name}.{Random.Shared.Next()}.tmp");

    /// <summary>After a snapshot: every other LTX file is history the snapshot replaced.</summary>
    private void DeleteLtxFilesExcept(string keep)
    {
        foreach (var (_, _, path) in LtxFiles())
        {
            if (path != keep)
            {
                DeleteFile(path);
            }
        }
    }

    /// <summary>
    /// Writes a file through a pooled staging buffer: a small received file costs one write(2)
    /// and no allocation. A large one is written in 1 MiB pieces by pool threads from a second
    /// buffer while the first fills, so copying into the page cache overlaps with receiving.
    /// </summary>
    private sealed class StagedFileWriter : WriteOnlyStream
    {
        private const int StageSize = 1 << 20;
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
        private readonly OverlappedFileWriter _runs;
        private int _staged;
        private long _offset;

        public StagedFileWriter(string path)
        {
            _file = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
            _runs = new OverlappedFileWriter(_file, StageSize);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                var n = Math.Min(buffer.Length, StageSize - _staged);
                buffer[..n].CopyTo(_runs.Buffer.AsSpan(_staged));
                _staged += n;
                buffer = buffer[n..];
                if (_staged == StageSize)
                {
                    _runs.Write(_staged, _offset);
                    _offset += _staged;
                    _staged = 0;
                }
            }
        }

        /// <summary>Writes what is staged; the file is complete.</summary>
        public void Complete()
        {
            if (_staged > 0)
            {
                _runs.WriteLast(_staged, _offset);
                _offset += _staged;
                _staged = 0;
            }
            else
            {
                _runs.Finish();
            }
        }

        protected override void Dispose(bool disposing)
        {
            _runs.Dispose();
            _file.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Reads a prefix already taken from a stream, then the stream itself, copying everything
    /// read into <c>copy</c> (if given): stores a file while the decoder verifies it.
    /// </summary>
    private sealed class PrefixedStream(byte[] prefix, Stream source, Stream? copy) : ReadOnlyStream
    {
        private int _prefixOffset;

        public override int Read(Span<byte> buffer)
        {
            int n;
            if (_prefixOffset < prefix.Length)
            {
                n = Math.Min(buffer.Length, prefix.Length - _prefixOffset);
                prefix.AsSpan(_prefixOffset, n).CopyTo(buffer);
                _prefixOffset += n;
            }
            else
            {
                n = source.Read(buffer);
            }
            copy?.Write(buffer[..n]);
            return n;
        }
    }
}
