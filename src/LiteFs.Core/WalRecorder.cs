using System.Buffers;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

/// <summary>
/// Records the transactions SQLite commits to one database's WAL as LTX files. It follows the
/// WAL (the generation, where the next transaction starts, which frame holds each committed
/// page), settles it (records every committed transaction that has no LTX file yet) whenever
/// something needs the recorded history complete, and runs the committer's passes: a database
/// whose WAL write lock was released is queued on the node's committer thread, which records
/// everything committed meanwhile as one file, at most one file every
/// <see cref="MinFileInterval"/>. Until a transaction is recorded the WAL is its durable copy:
/// nothing overwrites, truncates or checkpoints WAL frames before they are recorded.
/// </summary>
/// <remarks>
/// Threading: every member runs under the database's monitor (checked in debug builds) except
/// those whose comment names another rule: <see cref="NoteFramesWritten"/> and
/// <see cref="OnWriteLockReleased"/> (any thread, lock-free), <see cref="CommitterWait"/> and
/// <see cref="RunCommitter"/> (the committer thread), <see cref="SettleDurably"/> and
/// <see cref="BeforeDatabaseWrite"/> (any thread not holding the monitor: they sync outside it).
/// </remarks>
internal sealed class WalRecorder
{
    /// <summary>
    /// The committer writes at most one LTX file per database in this time; transactions that
    /// commit meanwhile share the next file. A lone transaction is recorded at once; under a
    /// steady stream the pace bounds the files made per second, and with them the cost of
    /// creating a file (hundreds of microseconds of CPU on some file systems), which otherwise
    /// competes with SQLite and replication for the cores. Readers of the position never wait
    /// for it: they record what is pending themselves.
    /// </summary>
    internal static readonly TimeSpan MinFileInterval = TimeSpan.FromMilliseconds(2);

    /// <summary>LTX files written without a sync after which the committer syncs them itself, off SQLite's path.</summary>
    private const int BackgroundSyncFiles = 256;

    /// <summary>Most transactions one LTX file of the committer records.</summary>
    private const int MaxBatchTransactions = 4096;

    /// <summary>Most WAL bytes one LTX file of the committer records (a larger transaction is recorded alone).</summary>
    private const long MaxBatchBytes = 64L << 20;

    /// <summary>
    /// The buffer through which the committer reads the WAL: the frames are followed in reads of
    /// this size, and the pages it records are read back in runs of adjacent frames up to it, so
    /// a large transaction costs one read per buffer rather than two per frame.
    /// </summary>
    private const int ReadBufferSize = 1 << 20;

    private readonly Db _db;
    private readonly IDbHost _host;
    private readonly LtxWriter _ltx;
    private readonly ILogger _log;

    // Fields, each with its owner. "Monitor": the database's monitor.

    /// <summary>
    /// What the node learnt from the last WAL header and where the next transaction starts, with
    /// the running checksum there. Monitor (replaced whole); read anywhere (one reference).
    /// </summary>
    private volatile WalCursor _cursor = WalCursor.None;

    /// <summary>Committed WAL frames: the newest frame's offset for each page (read by snapshots). Monitor.</summary>
    private readonly Dictionary<uint, long> _frames = [];

    /// <summary>
    /// Transactions SQLite committed may wait to be recorded: set without the monitor by every
    /// WAL frame write the node sees and every release of the WAL write lock (frames written
    /// through passthrough are not seen); cleared under the monitor before the WAL is read, so a
    /// frame written after that is seen by the next pass.
    /// </summary>
    private volatile bool _written;

    /// <summary>Set while <see cref="Settle"/> runs (what it calls may read the position again). Monitor.</summary>
    private bool _settling;

    /// <summary>The running checkpoint (if any) found every transaction in the WAL recorded before its first page write. Monitor.</summary>
    private bool _checkpointSettled;

    /// <summary>1 while a committer pass is queued: atomic flag, set by the thread that queues it, cleared by the committer thread.</summary>
    private int _queued;

    /// <summary>When the committer last wrote an LTX file (a <see cref="IDbHost.Time"/> timestamp), 0 before any. Monitor; read by the committer's scheduling (Volatile).</summary>
    private long _lastFile;

    /// <summary>1 while a background sync of LTX files runs: atomic flag, set by the committer thread, cleared by the sync.</summary>
    private int _backgroundSync;

    internal WalRecorder(Db db, IDbHost host, LtxWriter ltx, ILogger log)
    {
        _db = db;
        _host = host;
        _ltx = ltx;
        _log = log;
    }

    /// <summary>The database whose WAL this records.</summary>
    internal Db Db => _db;

    /// <summary>Where the next transaction starts in the WAL, and the generation's salts and running checksum. Read anywhere.</summary>
    internal WalCursor Cursor => _cursor;

    /// <summary>A copy of the committed frames' offsets by page number (for a snapshot). Monitor.</summary>
    internal Dictionary<uint, long> CopyFrames()
    {
        _db.AssertSync();
        return new Dictionary<uint, long>(_frames);
    }

    /// <summary>SQLite wrote a new WAL header: a new generation starts; its frames follow the header. Monitor.</summary>
    internal void StartGeneration(in WalHeader header)
    {
        _db.AssertSync();
        _cursor = WalCursor.Start(header);
        ForgetFrames();
    }

    /// <summary>The WAL was emptied (truncated, removed or checkpointed away): the generation's salts stay. Monitor.</summary>
    internal void Rewind()
    {
        _db.AssertSync();
        ForgetFrames();
        _cursor = _cursor with { Offset = 0 };
    }

    /// <summary>The database's files were removed: nothing of the WAL is left, not even its running checksum. Monitor.</summary>
    internal void Reset()
    {
        _db.AssertSync();
        ForgetFrames();
        _cursor = _cursor with { Offset = 0, S0 = 0, S1 = 0 };
    }

    /// <summary>
    /// Start-up found committed transactions at the end of the WAL past the newest LTX file
    /// (<paramref name="tail"/>, read up to there): records them now, in order. Monitor.
    /// </summary>
    internal void RecordTail(WalCursor tail)
    {
        _db.AssertSync();
        _cursor = tail;
        try
        {
            while (CommitWal())
            {
            }
        }
        catch (Exception ex) when (DiskFullGuard.IsDiskFull(ex))
        {
            // Start-up on a full disk: they stay in the WAL and are recorded once there is room.
            _written = true;
            _ = _db.RecordingFailedForSpace(ex);
        }
    }

    /// <summary>
    /// Start-up on a full disk, where checkpointing would grow the database file: the WAL's
    /// committed frames up to <paramref name="end"/> (the recorded transactions; the end of the
    /// valid WAL for <see cref="long.MaxValue"/>) are followed as while the node runs, their pages
    /// and checksums over the database file's, instead of copied into it. Returns false when the
    /// WAL does not verify up to there. Monitor.
    /// </summary>
    internal bool Follow(long end)
    {
        _db.AssertSync();
        var pageSize = _db.PageSize;
        var wal = _db.Handle(DbFileKind.Wal, create: false);
        var reader = wal is null || pageSize == 0 ? null : WalReader.Open(wal);
        if (reader is null || reader.Header.PageSize != pageSize)
        {
            return false;
        }
        StartGeneration(reader.Header);
        var page = new byte[pageSize];
        var pending = new Dictionary<uint, (long Offset, Checksum Checksum)>();
        var committed = new Dictionary<uint, (long Offset, Checksum Checksum)>();
        uint commit = 0;
        var cursor = reader.Cursor;
        while (reader.NextOffset < end && reader.ReadFrame(page, out var fh))
        {
            pending[fh.Pgno] = (reader.Offset, Checksum.OfPage(fh.Pgno, page));
            if (fh.Commit != 0)
            {
                foreach (var (pgno, frame) in pending)
                {
                    committed[pgno] = frame;
                }
                pending.Clear();
                commit = fh.Commit;
                cursor = reader.Cursor;
            }
        }
        if (end != long.MaxValue && cursor.Offset != end)
        {
            return false;
        }
        if (commit > 0)
        {
            var lockPgno = LtxLayout.LockPageNumber(pageSize);
            foreach (var (pgno, frame) in committed.Where(f => f.Key <= commit && f.Key != lockPgno))
            {
                _frames[pgno] = frame.Offset;
                _db.Checksums.SetWal(pgno, frame.Checksum);
            }
            _db.Checksums.Truncate(commit);
            _db.PageCount = commit;
        }
        _cursor = cursor;
        return true;
    }

    /// <summary>A WAL frame was written through the node: any thread, lock-free.</summary>
    internal void NoteFramesWritten() => _written = true;

    /// <summary>
    /// A connection that held the WAL write lock exclusively releases it: the transaction it
    /// committed (if any) is handed to the committer. Frames written through passthrough are not
    /// seen by the node: the writer's release is what says there may be some. Any thread, lock-free.
    /// </summary>
    internal void OnWriteLockReleased()
    {
        _written = true;
        if (Interlocked.Exchange(ref _queued, 1) == 0)
        {
            _host.ScheduleCommit(this);
        }
    }

    /// <summary>
    /// The disk had no room for the last attempt and may have now: queues a committer pass that
    /// tries again (the transactions are still marked pending). Any thread, lock-free.
    /// </summary>
    internal void RetryAfterDiskFull()
    {
        if (Interlocked.Exchange(ref _queued, 1) == 0)
        {
            _host.ScheduleCommit(this);
        }
    }

    /// <summary>A checkpoint may begin (CKPT was locked): its first database write settles the WAL again. Any thread not holding the monitor.</summary>
    internal void CheckpointMayBegin()
    {
        using (_db.EnterSync())
        {
            _checkpointSettled = false;
        }
    }

    /// <summary>
    /// A page is about to be written to the database file. In WAL mode that is a checkpoint
    /// copying committed frames: their transactions are recorded, durably, before its first page
    /// lands. The frames it copies were all committed before that first write, so once per
    /// checkpoint is enough. The sync runs outside the monitor: the committer goes on recording
    /// the transactions that commit meanwhile (they are not part of this checkpoint). Any thread
    /// not holding the monitor.
    /// </summary>
    internal void BeforeDatabaseWrite()
    {
        if (_db.Mode != JournalMode.Wal)
        {
            return;
        }
        using (_db.EnterSync())
        {
            if (_checkpointSettled)
            {
                return;
            }
        }
        SettleDurably();
        using (_db.EnterSync())
        {
            _checkpointSettled = true;
        }
    }

    /// <summary>How long the committer should wait before this database's next pass. The committer thread.</summary>
    internal TimeSpan CommitterWait() =>
        Volatile.Read(ref _lastFile) is var last and not 0 ? MinFileInterval - _host.Time.GetElapsedTime(last) : TimeSpan.Zero;

    /// <summary>
    /// One pass of the committer thread: records what SQLite committed since the last pass. Once
    /// many files wait to be made durable it syncs them too, outside the database's monitor, so
    /// that the sync a checkpoint needs first finds little to do and SQLite is not held up by it.
    /// </summary>
    internal void RunCommitter()
    {
        Volatile.Write(ref _queued, 0);
        try
        {
            long unsynced, written;
            using (_db.EnterSync())
            {
                if (_db.IsDisposed)
                {
                    return;
                }
                Settle(durable: false);
                (unsynced, written) = (_ltx.Unsynced, _ltx.Written);
            }
            if (unsynced >= BackgroundSyncFiles && Interlocked.Exchange(ref _backgroundSync, 1) == 0)
            {
                // On a thread of its own: the committer goes on recording meanwhile.
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.recorder.SyncInBackground(s.written), (recorder: this, written), preferLocal: false);
            }
        }
        catch (FatalDatabaseException)
        {
            // Reported to the node already.
        }
        catch (LiteFsException ex) when (ex.Error == LiteFsError.NoSpace)
        {
            // The disk is full: the transactions wait in the WAL; the store's check tries again.
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
            SyncOutsideMonitor(written);
        }
        catch (IOException ex)
        {
            DbLog.SyncFailed(_log, _db.Name, ex.Message);
        }
        finally
        {
            Volatile.Write(ref _backgroundSync, 0);
        }
    }

    /// <summary>
    /// Records what the WAL holds unrecorded and makes every LTX file written so far durable,
    /// syncing outside the monitor (the caller must not hold it): the committer, position
    /// readers and the streams go on meanwhile. For callers that keep SQLite from committing
    /// while they wait (a checkpoint's first write, the exclusive READ1..READn lock before a new
    /// WAL generation): files written during the sync belong to later transactions.
    /// </summary>
    internal void SettleDurably()
    {
        long unsynced, written;
        using (_db.EnterSync())
        {
            Settle(durable: false);
            (unsynced, written) = (_ltx.Unsynced, _ltx.Written);
        }
        if (unsynced > 0)
        {
            SyncOutsideMonitor(written);
        }
    }

    /// <summary>
    /// Syncs the LTX directory's file system without holding the monitor, then records that the
    /// first <paramref name="written"/> files (those counted before the sync began) are durable;
    /// files written during the sync may not be.
    /// </summary>
    private void SyncOutsideMonitor(long written)
    {
        _ltx.SyncFileSystem();
        using (_db.EnterSync())
        {
            _ltx.MarkSyncedThrough(written);
        }
    }

    /// <summary>
    /// Records every transaction SQLite committed to the WAL that has no LTX file yet; with
    /// <paramref name="durable"/>, also makes every LTX file written so far durable. Called by the
    /// committer and before anything that needs the recorded history to be complete: recording
    /// the position, a snapshot, a checkpoint writing the database file, a new WAL generation,
    /// the WAL's truncation or removal. A full disk is not fatal: the transactions stay in the
    /// WAL (still their durable copy), the database refuses new writes, and the caller gets a
    /// <see cref="LiteFsError.NoSpace"/> error, so nothing that would checkpoint or overwrite
    /// them goes ahead; a later pass records them. Any other failure is fatal: SQLite has already
    /// reported the transaction committed. Monitor.
    /// </summary>
    internal void Settle(bool durable)
    {
        _db.AssertSync();
        if (_written && !_settling)
        {
            _settling = true;
            try
            {
                // Cleared before the WAL is read: a frame written after this is seen by the next pass.
                _written = false;
                while (CommitWal())
                {
                }
                _db.RecordingResumed();
            }
            catch (Exception ex) when (DiskFullGuard.IsDiskFull(ex))
            {
                // Still pending: the next pass reads the WAL from the same place.
                _written = true;
                throw _db.RecordingFailedForSpace(ex);
            }
            catch (Exception ex) when (ex is not FatalDatabaseException)
            {
                var fatal = new FatalDatabaseException($"{_db.Name}: cannot commit WAL transaction: {ex.Message}", ex);
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

    /// <summary>
    /// Under a HALT lock borrowed from the primary: SQLite just completed the commit frame at
    /// <paramref name="commitFrame"/>. The transaction is recorded now, which forwards it to the
    /// primary first. If the primary does not take it, nothing is recorded: the checksums are
    /// put back as they were, the commit frame is voided on disk (so neither SQLite nor start-up
    /// ever reads it as committed), and the refusal goes back to SQLite as EIO. Monitor.
    /// </summary>
    internal void RecordForwarded(long commitFrame)
    {
        _db.AssertSync();
        _written = false;
        try
        {
            while (CommitWal())
            {
            }
        }
        catch (ForwardRefusedException)
        {
            _db.RebuildChecksums();
            foreach (var (pgno, offset) in _frames)
            {
                RestoreWalChecksum(pgno, offset);
            }
            var wal = _db.Handle(DbFileKind.Wal, create: false);
            if (wal is not null)
            {
                RandomAccess.Write(wal, new byte[WalHeader.FrameHeaderSize], commitFrame);
            }
            throw;
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            var fatal = new FatalDatabaseException($"{_db.Name}: cannot commit WAL transaction: {ex.Message}", ex);
            _host.Fatal(fatal);
            throw fatal;
        }
    }

    /// <summary>Puts back the checksum of a page whose newest committed frame is at <paramref name="offset"/>.</summary>
    private void RestoreWalChecksum(uint pgno, long offset)
    {
        var wal = _db.Handle(DbFileKind.Wal, create: false) ?? throw new LiteFsException($"{_db.Name}: the WAL is gone");
        var page = ArrayPool<byte>.Shared.Rent(_db.PageSize);
        try
        {
            var span = page.AsSpan(0, _db.PageSize);
            RandomAccess.Read(wal, span, offset + WalHeader.FrameHeaderSize);
            _db.Checksums.SetWal(pgno, Checksum.OfPage(pgno, span));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }

    /// <summary>Forgets the committed frames and their checksums (the WAL was reset or checkpointed away).</summary>
    private void ForgetFrames()
    {
        _db.Checksums.ClearWal();
        _frames.Clear();
    }

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
        _db.AssertSync();
        var pageSize = _db.PageSize;
        if (pageSize == 0)
        {
            return false;
        }
        var wal = _db.Handle(DbFileKind.Wal, create: false);
        if (wal is null || !ReadGeneration(wal, pageSize))
        {
            return false;
        }
        var start = _cursor;
        var reader = WalReader.Resume(wal, start, pageSize);
        var frameSize = WalHeader.FrameHeaderSize + pageSize;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(frameSize, ReadBufferSize));
        try
        {
            var pages = new Dictionary<uint, long>();   // recorded by complete transactions
            var pending = new Dictionary<uint, long>(); // the transaction being read
            var end = start; // after the last complete transaction
            var previous = _db.PageCount;
            uint commit = 0;
            uint highest = 0; // no page above it in pages
            var count = 0;
            // A frame that does not verify ends the WAL: not written yet, torn, or left over from
            // a rolled-back transaction.
            while (count < MaxBatchTransactions && reader.ReadFrameAhead(buffer, out _, out var fh))
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

            var first = _db.CurrentPos.TxId.Next;
            var last = new TxId(first.Value + (ulong)count - 1);
            var lockPgno = LtxLayout.LockPageNumber(pageSize);
            var pgnos = pages.Keys.Where(p => p <= commit && p != lockPgno).Order().ToArray();
            if (first.Value == 1 && pgnos.Length != commit - (commit >= lockPgno ? 1 : 0))
            {
                throw new LiteFsException($"{_db.Name}: the first transaction does not carry every page of the database");
            }
            // No write-access check here: SQLite has committed these transactions and told its
            // caller so; they are recorded whatever became of the lease since.
            var header = _db.NewHeader(first, last, commit, start.Offset, end.Offset - start.Offset, start.Salt1, start.Salt2);
            var checksums = _db.Checksums;
            var encoder = _ltx.Begin(header);
            // The WAL checksums these transactions replace, put back if their file cannot be written.
            var replaced = new List<(uint Pgno, ulong? Checksum)>(pgnos.Length);
            try
            {
                // Each page is read once, checksummed and encoded together; pages whose frames
                // follow each other in the WAL (most of a large transaction) in one read.
                var maxRun = buffer.Length / frameSize;
                for (var i = 0; i < pgnos.Length;)
                {
                    var at = pages[pgnos[i]];
                    var run = 1;
                    while (run < maxRun && i + run < pgnos.Length && pages[pgnos[i + run]] == at + ((long)run * frameSize))
                    {
                        run++;
                    }
                    var frames = buffer.AsSpan(0, run * frameSize);
                    if (RandomAccess.Read(wal, frames, at) != frames.Length)
                    {
                        throw new LiteFsException($"{_db.Name}: the WAL ended at a committed frame (offset {at}) while it was being recorded");
                    }
                    for (var k = 0; k < run; k++, i++)
                    {
                        var pgno = pgnos[i];
                        var page = frames.Slice((k * frameSize) + WalHeader.FrameHeaderSize, pageSize);
                        replaced.Add((pgno, checksums.TryGetWal(pgno, out var old) ? old : null));
                        checksums.SetWal(pgno, Checksum.OfPage(pgno, page));
                        encoder.WritePage(pgno, page);
                    }
                }
                checksums.Truncate(commit);
                _db.FinishLtx(encoder, checksums.Compute(commit, pageSize));
            }
            catch (Exception ex) when (DiskFullGuard.IsDiskFull(ex))
            {
                // Nothing was recorded: the checksums go back to what the recorded transactions left.
                if (commit < _db.PageCount)
                {
                    // The truncation dropped checksums too: computed again from the files.
                    _db.RebuildChecksums();
                    foreach (var (pgno, offset) in _frames)
                    {
                        RestoreWalChecksum(pgno, offset);
                    }
                }
                else
                {
                    for (var i = replaced.Count - 1; i >= 0; i--)
                    {
                        checksums.RestoreWal(replaced[i].Pgno, replaced[i].Checksum);
                    }
                }
                throw;
            }
            finally
            {
                encoder.Dispose();
            }
            var post = encoder.Trailer.PostApplyChecksum;

            foreach (var pgno in pgnos)
            {
                _frames[pgno] = pages[pgno];
            }
            if (commit < _db.PageCount)
            {
                _frames.Keys.Where(p => p > commit).ToList().ForEach(p => _frames.Remove(p));
            }
            _cursor = end;
            _db.PageCount = commit;
            _db.Committed(header, post);
            Volatile.Write(ref _lastFile, _host.Time.GetTimestamp());
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
    /// was recorded whole before SQLite was allowed to replace it (see <see cref="Db.Lock"/>).
    /// </summary>
    /// <returns>False when the WAL has no valid header yet.</returns>
    private bool ReadGeneration(SafeFileHandle wal, int pageSize)
    {
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
        if (_cursor.IsGeneration(header))
        {
            return true;
        }
        if (!WalHeader.ChecksumMatches(buffer, header))
        {
            return false; // being written
        }
        if (header.PageSize != pageSize)
        {
            throw new LiteFsException($"{_db.Name}: the WAL's page size {header.PageSize} differs from the database's {pageSize}");
        }
        StartGeneration(header);
        return true;
    }
}
