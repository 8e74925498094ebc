using System.Buffers;
using System.Buffers.Binary;
using LiteFs.Core.Locking;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    private int FrameSize => WalHeader.FrameHeaderSize + PageSize;

    private void WriteWal(ReadOnlySpan<byte> data, long offset)
    {
        if (!_host.IsWritable(this))
        {
            throw Refused(new ReadOnlyReplicaException(Name));
        }
        if (data.IsEmpty)
        {
            return;
        }
        if (offset == 0)
        {
            if (data.Length != WalHeader.Size)
            {
                throw new LiteFsException($"{Name}: WAL header writes must be {WalHeader.Size} bytes (got {data.Length})");
            }
            RequireWriteLock();
            var header = WalHeader.Read(data);
            if (!header.HasValidMagic)
            {
                throw new LiteFsException($"{Name}: invalid WAL header magic 0x{header.Magic:x8}");
            }
            using (EnterSync())
            {
                // A new WAL generation overwrites the frames: every transaction in them is recorded
                // first, and durably, since the WAL stops being their durable copy.
                SettleWal(durable: true);
                _wal = WalCursor.Start(header);
                ForgetWalFrames();
                RandomAccess.Write(RequireHandle(DbFileKind.Wal, create: true), data, offset);
            }
            return;
        }

        // Frames are written without the database's monitor: the committer may be recording the
        // previous transactions meanwhile. SQLite's WAL write lock orders the writers.
        RequireWriteLock();
        if (PageSize == 0)
        {
            throw new LiteFsException($"{Name}: WAL frame written before the page size is known");
        }
        if (_wal.Offset is var start && offset < start)
        {
            throw new LiteFsException($"{Name}: WAL write at offset {offset} would overwrite committed frames (transaction starts at {start})");
        }
        RandomAccess.Write(RequireHandle(DbFileKind.Wal, create: true), data, offset);
        _walWritten = true;
    }

    private void RequireWriteLock()
    {
        if (!Locks.Write.IsExclusive)
        {
            throw new LiteFsException($"{Name}: WAL written without the WAL write lock (locking_mode=EXCLUSIVE is not supported in WAL mode)");
        }
    }

    private void TruncateWal(long size)
    {
        if (size != 0)
        {
            throw new LiteFsException($"{Name}: the WAL may only be truncated to 0 bytes (asked for {size})");
        }
        using (EnterSync())
        {
            SettleWal(durable: true);
            RandomAccess.SetLength(RequireHandle(DbFileKind.Wal), 0);
            ForgetWalFrames();
            _wal = _wal with { Offset = 0 };
        }
    }

    /// <summary>Forgets the committed frames and their checksums (the WAL was reset or checkpointed away).</summary>
    private void ForgetWalFrames()
    {
        AssertSync();
        _checksums.ClearWal();
        _walFrames.Clear();
    }

    /// <summary>
    /// The WAL write lock is being released by <paramref name="owner"/>: if it held it exclusively,
    /// the transaction it committed (if any) is handed to the committer, which records it
    /// as the next LTX file off SQLite's path (group commit: one pass records every transaction
    /// that committed meanwhile). Until then the WAL is the transaction's durable copy: start-up
    /// records committed WAL transactions that have no LTX file, and nothing overwrites or
    /// checkpoints WAL frames before they are recorded (<see cref="SettleWal"/>).
    /// </summary>
    internal void BeforeWriteLockRelease(ulong owner)
    {
        if (Locks.Write.ModeOf(owner) == LockMode.Exclusive)
        {
            // Frames written through passthrough are not seen by the node: the writer's release
            // is what says there may be some.
            _walWritten = true;
            ScheduleCommitter();
        }
    }

    private void ScheduleCommitter()
    {
        if (Interlocked.Exchange(ref _committerQueued, 1) == 0)
        {
            _host.ScheduleCommit(this);
        }
    }

    /// <summary>
    /// The committer writes at most one LTX file per database in this time; transactions that
    /// commit meanwhile share the next file. A lone transaction is recorded at once; under a
    /// steady stream the pace bounds the files made per second, and with them the cost of
    /// creating a file (hundreds of microseconds of CPU on some file systems), which otherwise
    /// competes with SQLite and replication for the cores. Readers of the position never wait
    /// for it: they record what is pending themselves.
    /// </summary>
    internal static readonly TimeSpan MinFileInterval = TimeSpan.FromMilliseconds(2);

    /// <summary>How long the committer should wait before this database's next pass.</summary>
    internal TimeSpan CommitterWait() =>
        Volatile.Read(ref _lastWalFile) is var last and not 0 ? MinFileInterval - _host.Time.GetElapsedTime(last) : TimeSpan.Zero;

    /// <summary>LTX files written without a sync after which the committer syncs them itself, off SQLite's path.</summary>
    private const int BackgroundSyncFiles = 256;

    /// <summary>
    /// One pass of the committer thread: records what SQLite committed since the last pass. Once
    /// many files wait to be made durable it syncs them too, outside the database's monitor, so
    /// that the sync a checkpoint needs first (<see cref="SettleWal"/>) finds little to do and
    /// SQLite is not held up by it.
    /// </summary>
    internal void RunCommitter()
    {
        Volatile.Write(ref _committerQueued, 0);
        try
        {
            long unsynced, written;
            using (EnterSync())
            {
                if (_disposed)
                {
                    return;
                }
                SettleWal(durable: false);
                (unsynced, written) = (_ltx.Unsynced, _ltx.Written);
            }
            if (unsynced >= BackgroundSyncFiles && Interlocked.Exchange(ref _backgroundSync, 1) == 0)
            {
                // On a thread of its own: the committer goes on recording meanwhile.
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.db.SyncInBackground(s.written), (db: this, written), preferLocal: false);
            }
        }
        catch (FatalDatabaseException)
        {
            // Reported to the node already.
        }
        catch (ObjectDisposedException)
        {
            // The database was closed meanwhile; its disposal recorded what there was.
        }
    }

    private void SyncInBackground(long written)
    {
        try
        {
            SyncLtxOutsideMonitor(written);
        }
        catch (IOException ex)
        {
            DbLog.SyncFailed(_log, Name, ex.Message);
        }
        finally
        {
            Volatile.Write(ref _backgroundSync, 0);
        }
    }

    /// <summary>
    /// Records every transaction SQLite committed to the WAL that has no LTX file yet; with
    /// <paramref name="durable"/>, also makes every LTX file written so far durable. Called by the
    /// committer and before anything that needs the recorded history to be complete: reading the
    /// position, a snapshot, a checkpoint writing the database file, a new WAL generation, the
    /// WAL's truncation or removal. A failure is fatal: SQLite has already reported the
    /// transaction committed. Callers hold <see cref="_sync"/>.
    /// </summary>
    private void SettleWal(bool durable)
    {
        AssertSync();
        if (_walWritten && !_settling)
        {
            _settling = true;
            try
            {
                // Cleared before the WAL is read: a frame written after this is seen by the next pass.
                _walWritten = false;
                while (CommitWal())
                {
                }
            }
            catch (Exception ex) when (ex is not FatalDatabaseException)
            {
                var fatal = new FatalDatabaseException($"{Name}: cannot commit WAL transaction: {ex.Message}", ex);
                _host.Fatal(fatal);
                throw fatal;
            }
            finally
            {
                _settling = false;
            }
        }
        if (durable)
        {
            _ltx.SyncPending();
        }
    }

    /// <summary>Most transactions one LTX file of the committer records.</summary>
    private const int MaxBatchTransactions = 4096;

    /// <summary>Most WAL bytes one LTX file of the committer records (a larger transaction is recorded alone).</summary>
    private const long MaxBatchBytes = 64L << 20;

    /// <summary>
    /// Records the transactions committed in the WAL after the last recorded one, as one LTX file
    /// (group commit: a single transaction normally; every transaction that committed while the
    /// previous file was being written when SQLite outpaces the node). A file ends after a
    /// transaction that shrinks the database, so that applying it is the same as applying its
    /// transactions one by one (a later one growing the database again could leave a page that
    /// no single file says to zero). Frames above a transaction's database size are pages SQLite
    /// spilled before shrinking: they are not part of the result.
    /// </summary>
    /// <returns>Whether a transaction was recorded.</returns>
    private bool CommitWal()
    {
        AssertSync();
        if (PageSize == 0)
        {
            return false;
        }
        var wal = Handle(DbFileKind.Wal, create: false);
        if (wal is null || !ReadWalGeneration(wal))
        {
            return false;
        }
        var start = _wal;
        var reader = WalReader.Resume(wal, start, PageSize);
        var frameSize = FrameSize;
        var buffer = ArrayPool<byte>.Shared.Rent(frameSize);
        try
        {
            var frame = buffer.AsSpan(0, frameSize);
            var pages = new Dictionary<uint, long>();   // recorded by complete transactions
            var pending = new Dictionary<uint, long>(); // the transaction being read
            var end = start; // after the last complete transaction
            var previous = PageCount;
            uint commit = 0;
            uint highest = 0; // no page above it in pages
            var count = 0;
            // A frame that does not verify ends the WAL: not written yet, torn, or left over from
            // a rolled-back transaction.
            while (count < MaxBatchTransactions && reader.ReadWholeFrame(frame, out var fh))
            {
                pending[fh.Pgno] = reader.Offset;
                if (fh.Commit == 0)
                {
                    continue;
                }
                foreach (var (pgno, at) in pending)
                {
                    pages[pgno] = at;
                    highest = Math.Max(highest, pgno);
                }
                pending.Clear();
                if (highest > fh.Commit)
                {
                    foreach (var pgno in pages.Keys.Where(p => p > fh.Commit).ToList())
                    {
                        pages.Remove(pgno);
                    }
                    highest = fh.Commit;
                }
                var shrinks = fh.Commit < (count == 0 ? previous : commit);
                commit = fh.Commit;
                count++;
                end = reader.Cursor;
                if (shrinks || end.Offset - start.Offset >= MaxBatchBytes)
                {
                    break;
                }
            }
            if (count == 0)
            {
                return false; // no complete transaction: SQLite rolled back or is not done
            }

            var first = _pos.TxId.Next;
            var last = new TxId(first.Value + (ulong)count - 1);
            var lockPgno = LockPgno;
            var pgnos = pages.Keys.Where(p => p <= commit && p != lockPgno).Order().ToArray();
            if (first.Value == 1 && pgnos.Length != commit - (commit >= lockPgno ? 1 : 0))
            {
                throw new LiteFsException($"{Name}: the first transaction does not carry every page of the database");
            }
            // No write-access check here: SQLite has committed these transactions and told its
            // caller so; they are recorded whatever became of the lease since.
            var header = NewHeader(first, last, commit, start.Offset, end.Offset - start.Offset, start.Salt1, start.Salt2);
            var encoder = _ltx.Begin(header);
            try
            {
                // One read per page: it is checksummed and encoded together.
                var page = frame[WalHeader.FrameHeaderSize..];
                foreach (var pgno in pgnos)
                {
                    RandomAccess.Read(wal, page, pages[pgno] + WalHeader.FrameHeaderSize);
                    _checksums.SetWal(pgno, Checksum.OfPage(pgno, page));
                    encoder.WritePage(pgno, page);
                }
                _checksums.Truncate(commit);
                FinishLtx(encoder, _checksums.Compute(commit, PageSize));
            }
            finally
            {
                encoder.Dispose();
            }
            var post = encoder.Trailer.PostApplyChecksum;

            foreach (var pgno in pgnos)
            {
                _walFrames[pgno] = pages[pgno];
            }
            if (commit < PageCount)
            {
                _walFrames.Keys.Where(p => p > commit).ToList().ForEach(p => _walFrames.Remove(p));
            }
            _wal = end;
            PageCount = commit;
            Committed(header, post);
            Volatile.Write(ref _lastWalFile, _host.Time.GetTimestamp());
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads the WAL header and, when it starts a generation the node has not seen (written
    /// through passthrough), adopts it: its frames follow the header. The previous generation
    /// was recorded whole before SQLite was allowed to replace it (see <see cref="Lock"/>).
    /// </summary>
    /// <returns>False when the WAL has no valid header yet.</returns>
    private bool ReadWalGeneration(Microsoft.Win32.SafeHandles.SafeFileHandle wal)
    {
        AssertSync();
        Span<byte> buffer = stackalloc byte[WalHeader.Size];
        if (RandomAccess.Read(wal, buffer, 0) < WalHeader.Size)
        {
            return false;
        }
        var header = WalHeader.Read(buffer);
        if (!header.HasValidMagic)
        {
            return false;
        }
        if (_wal.IsGeneration(header))
        {
            return true;
        }
        if (!WalHeader.ChecksumMatches(buffer, header))
        {
            return false; // being written
        }
        if (header.PageSize != PageSize)
        {
            throw new LiteFsException($"{Name}: the WAL's page size {header.PageSize} differs from the database's {PageSize}");
        }
        _wal = WalCursor.Start(header);
        ForgetWalFrames();
        return true;
    }

}
