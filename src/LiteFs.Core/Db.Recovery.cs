using System.Buffers;
using System.Buffers.Binary;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// Opens the database at start-up: checks the database file and the newest LTX files,
    /// reconciles the WAL with the newest LTX file, rolls back a hot journal, checkpoints the
    /// WAL, computes every page's checksum, and applies the newest LTX file again so the database
    /// matches the last durable transaction whatever moment a crash interrupted (unless it
    /// matches already). Damaged files are handled by the rule in <c>Db.Damage.cs</c>: nothing
    /// that may be the only copy of a committed transaction is deleted or rolled back on a
    /// primary; what the node cannot tell apart it refuses, with the reason, by throwing.
    /// </summary>
    internal void Open()
    {
        using (EnterSync())
        {
            Directory.CreateDirectory(Path);
            var dbPath = FilePath(DbFileKind.Database);
            var length = File.Exists(dbPath) ? new FileInfo(dbPath).Length : -1;
            var notSqlite = length > 0 && !HasSqliteHeader(dbPath);
            if (notSqlite && !_host.IsWritable(this))
            {
                // A replica's copy is only a copy: it comes back whole from the primary.
                DbLog.NotSqlite(_log, Name, dbPath);
                Directory.Delete(Path, recursive: true);
                Directory.CreateDirectory(Path);
                (notSqlite, length) = (false, -1);
            }
            Directory.CreateDirectory(LtxDir);
            LtxFilePool.RemoveLeftovers(LtxDir);
            DeleteFile(System.IO.Path.Combine(LtxDir, SpillBuffer.SpillName));
            foreach (var partial in Directory.EnumerateFiles(LtxDir, ReceivingPrefix + "*"))
            {
                // A file being received when the process stopped: never part of the history.
                File.Delete(partial);
            }

            var history = ExamineHistory();
            if (_host.IsWritable(this) && (notSqlite || (length <= 0 && history.Damaged.Count == 0 && history.Newest?.Header?.Commit > 0)))
            {
                RebuildDatabase(history, length);
            }
            SetAside(history);
            DeleteFile(FilePath(DbFileKind.Shm));
            ReadHeader();

            _ltxRangeEnds.Clear();
            foreach (var (min, max, _) in LtxFiles())
            {
                NoteLtxRange(min, max);
            }
            long tail = 0;
            if (history.WalBase is { } walBase)
            {
                tail = SyncWalWith(walBase);
            }

            RollbackJournal();
            var limit = tail > 0 ? tail : long.MaxValue;
            if (!CheckpointFits(limit))
            {
                // The disk is full: the WAL stays, followed as while the node runs.
                OpenFollowingWal(history, limit);
                return;
            }
            CheckpointWal(rewriteShm: false, limit: limit);
            ReadHeader();
            ComputePageChecksums();

            if (history.Damaged.Count > 0)
            {
                ResolveDamage(history);
            }
            else if (history.Newest is not { Header: { } newestHeader, Trailer: { } newestTrailer } newest)
            {
                StartWithoutHistory();
            }
            else if (HoldsAlready(newest.Path, newestHeader, newestTrailer))
            {
                // The usual restart: the database is what the newest file leaves. Made durable,
                // not rewritten (after a snapshot, that file is the whole database).
                RandomAccess.FlushToDisk(RequireHandle(DbFileKind.Database, create: false));
                AppliedAt(newestHeader, newestTrailer);
            }
            else
            {
                ReconcileWithNewest(newest, newestHeader, newestTrailer);
            }
            if (tail > 0)
            {
                RecoverWalTail(tail);
            }
        }
    }

    /// <summary>
    /// The WAL holds transactions after the newest LTX file: SQLite committed them (their commit
    /// frames are written and checksummed) but the node stopped before it recorded them, for
    /// instance killed while the WAL write lock was being released. They are turned into LTX
    /// files now, in order, so no transaction SQLite acknowledged is lost; then the WAL is
    /// checkpointed.
    /// </summary>
    private void RecoverWalTail(long tail)
    {
        AssertSync();
        var wal = Handle(DbFileKind.Wal, create: false);
        if (wal is null)
        {
            return;
        }
        var reader = WalReader.Open(wal);
        if (reader is null || reader.Header.PageSize != PageSize)
        {
            CheckpointWal();
            return;
        }
        var page = new byte[PageSize];
        while (reader.NextOffset < tail && reader.ReadFrame(page, out _))
        {
        }
        if (reader.NextOffset != tail)
        {
            // The WAL does not verify up to the newest LTX file's end: nothing after it can be trusted.
            CheckpointWal();
            return;
        }
        var before = _pos;
        _recorder.RecordTail(reader.Cursor);
        if (_pos != before)
        {
            DbLog.RecoveredWal(_log, Name, before, _pos);
        }
        if (_diskFull.IsFull || !CheckpointFits(long.MaxValue))
        {
            // The disk is full: what is not recorded stays in the WAL, which the node follows
            // (its frames after the tail, the database file holding those before).
            return;
        }
        CheckpointWal();
    }

    /// <summary>
    /// Whether the start-up checkpoint of the WAL's committed frames up to <paramref name="limit"/>
    /// can be written: when it grows the database file, the blocks are allocated first, and a
    /// full disk says no before any page is copied.
    /// </summary>
    private bool CheckpointFits(long limit)
    {
        AssertSync();
        var database = Handle(DbFileKind.Database, create: false);
        var wal = Handle(DbFileKind.Wal, create: false);
        if (database is null || wal is null || !_host.IsWritable(this))
        {
            return true;
        }
        WalReader? reader;
        try
        {
            reader = WalReader.Open(wal);
        }
        catch (InvalidDataException)
        {
            return true; // ignored by the checkpoint
        }
        if (reader is null)
        {
            return true;
        }
        var page = new byte[reader.Header.PageSize];
        long size = 0;
        while (reader.NextOffset + page.Length + WalHeader.FrameHeaderSize <= limit && reader.ReadFrame(page, out var frame))
        {
            if (frame.Commit != 0)
            {
                size = (long)frame.Commit * page.Length;
            }
        }
        if (size <= RandomAccess.GetLength(database))
        {
            return true;
        }
        try
        {
            Posix.ReserveBlocks(database, size);
            return true;
        }
        catch (IOException ex) when (DiskFullGuard.IsDiskFull(ex))
        {
            return false;
        }
    }

    /// <summary>
    /// Start-up on a full disk, where the WAL cannot be checkpointed into the database file: the
    /// WAL is left as it is and followed. Its frames up to <paramref name="limit"/> belong to the
    /// newest LTX file's transaction and those before it: with them laid over the database file,
    /// the database must be exactly what that file leaves, or start-up is refused (nothing is
    /// changed). Transactions after them are recorded now if there is room, else they wait in the
    /// WAL and writes are refused until there is (<see cref="DiskFullGuard"/>). SQLite's readers
    /// rebuild their index from the WAL, so the node serves every committed transaction.
    /// </summary>
    private void OpenFollowingWal(LtxHistory history, long limit)
    {
        AssertSync();
        ReadHeader();
        ComputePageChecksums();
        var refusal = $"{Name}: the data directory is full and the WAL cannot be checkpointed into {FilePath(DbFileKind.Database)}";
        if (history.Damaged.Count > 0 || history.Newest is not { Header: { } header, Trailer: { } trailer })
        {
            throw new LiteFsException(LiteFsError.NoSpace, $"{refusal}, and its LTX history is damaged or missing; free space and start again");
        }
        if (!_recorder.Follow(limit) || PageCount != header.Commit || ComputeChecksum() != trailer.PostApplyChecksum)
        {
            throw new LiteFsException(LiteFsError.NoSpace,
                $"{refusal}, and the database with the WAL is not what the newest LTX file {LtxFileName.Format(header.MinTxId, header.MaxTxId)} leaves; nothing was changed: free space and start again");
        }
        _pos = new Pos(header.MaxTxId, trailer.PostApplyChecksum);
        Timestamp = header.Timestamp;
        DbLog.OpenedFollowingWal(_log, Name, _pos);
        if (limit != long.MaxValue)
        {
            var before = _pos;
            _recorder.RecordTail(_recorder.Cursor);
            if (_pos != before)
            {
                DbLog.RecoveredWal(_log, Name, before, _pos);
            }
        }
    }

    /// <summary>
    /// Whether the database file, as recovered and checksummed, already holds what the LTX file
    /// at <paramref name="path"/> leaves: its page size and size, and each of its pages (by page
    /// checksum), so that applying it would rewrite the same bytes. Page by page, not by the
    /// database checksum alone: that is a XOR of page CRCs, and two pages that took the same
    /// change (two empty tables given the same row) cancel out in it, so an apply stopped before
    /// those pages would pass.
    /// </summary>
    private bool HoldsAlready(string path, in LtxHeader header, in LtxTrailer trailer)
    {
        if (header.Commit == 0 || header.PageSize != PageSize || PageCount != header.Commit)
        {
            return false;
        }
        var database = Handle(DbFileKind.Database, create: false);
        if (database is null || RandomAccess.GetLength(database) != (long)header.Commit * PageSize)
        {
            return false;
        }
        using var file = File.OpenRead(path);
        using var decoder = new LtxDecoder(file);
        decoder.ReadHeader();
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize);
        try
        {
            var page = buffer.AsSpan(0, PageSize);
            while (decoder.ReadPage(out var ph, page, out var checksum))
            {
                if (_checksums.GetDatabase(ph.Pgno) != checksum.Value)
                {
                    return false;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return _checksums.Compute(header.Commit, PageSize) == trailer.PostApplyChecksum;
    }

    private static bool HasSqliteHeader(string path)
    {
        Span<byte> header = stackalloc byte[DatabaseHeader.Size];
        using var handle = File.OpenHandle(path);
        return RandomAccess.Read(handle, header, 0) == header.Length && DatabaseHeader.HasMagic(header);
    }

    private void ReadHeader()
    {
        AssertSync();
        var handle = Handle(DbFileKind.Database, create: false);
        if (handle is null)
        {
            return;
        }
        Span<byte> header = stackalloc byte[DatabaseHeader.Size];
        var n = RandomAccess.Read(handle, header, 0);
        if (n == 0)
        {
            return;
        }
        var pageSize = n < DatabaseHeader.Size ? 0 : DatabaseHeader.ReadPageSize(header);
        if (pageSize == 0)
        {
            throw new LiteFsException($"{Name}: cannot read the database header (page size)");
        }
        PageSize = pageSize;
        PageCount = DatabaseHeader.ReadPageCount(header);
        Mode = DatabaseHeader.ReadMode(header);
    }

    /// <summary>Computes every page's checksum from the database file again (the WAL's are the recorder's to put back).</summary>
    internal void RebuildChecksums() => ComputePageChecksums();

    private void ComputePageChecksums()
    {
        AssertSync();
        _checksums.Clear();
        var handle = Handle(DbFileKind.Database, create: false);
        if (handle is null || PageSize == 0)
        {
            return;
        }
        var length = RandomAccess.GetLength(handle);
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize);
        try
        {
            var page = buffer.AsSpan(0, PageSize);
            var lockPgno = LockPgno;
            for (uint pgno = 1; pgno <= PageCount && (long)pgno * PageSize <= length; pgno++)
            {
                if (pgno == lockPgno)
                {
                    continue;
                }
                RandomAccess.Read(handle, page, (long)(pgno - 1) * PageSize);
                _checksums.SetDatabase(pgno, Checksum.OfPage(pgno, page));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Makes the WAL agree with the newest LTX file: a WAL of another generation is set aside,
    /// frames past the file's transaction (never turned into an LTX file) are cut off.
    /// </summary>
    /// <returns>The WAL offset where transactions without an LTX file start, or 0 when there are none.</returns>
    private long SyncWalWith(in LtxHeader newest)
    {
        var walPath = FilePath(DbFileKind.Wal);
        if (!File.Exists(walPath))
        {
            return 0;
        }
        Span<byte> buffer = stackalloc byte[WalHeader.Size];
        long size;
        WalHeader header;
        using (var wal = File.OpenHandle(walPath, FileMode.Open, FileAccess.ReadWrite))
        {
            size = RandomAccess.GetLength(wal);
            if (RandomAccess.Read(wal, buffer, 0) < WalHeader.Size)
            {
                return 0;
            }
            header = WalHeader.Read(buffer);
            if (header.Salt1 == newest.WalSalt1 && header.Salt2 == newest.WalSalt2)
            {
                if (size < newest.WalOffset)
                {
                    throw new LiteFsException($"{Name}: the WAL ({size} bytes) is shorter than the newest LTX file says ({newest.WalOffset}); restore it or remove the database folder to resync");
                }
                var end = newest.WalOffset + newest.WalSize;
                if (size <= end || newest.WalOffset == 0)
                {
                    return 0;
                }
                if (!_host.IsWritable(this))
                {
                    // Only a writer's own WAL can hold transactions that belong in its history.
                    DbLog.TruncatingWal(_log, Name, size, end, newest.MaxTxId);
                    RandomAccess.SetLength(wal, end);
                    return 0;
                }
                return end;
            }
        }
        if (_host.IsWritable(this) && size > WalHeader.Size && header.HasValidMagic)
        {
            // A WAL of another generation on a writer is the one after the newest LTX file: SQLite
            // starts a new generation only once the previous one is checkpointed whole, and the
            // node records (durably) every transaction of a generation before its header is
            // replaced. Its committed transactions are recorded next.
            DbLog.NewWalGeneration(_log, Name);
            return WalHeader.Size;
        }
        DbLog.WalSetAside(_log, Name);
        CloseHandle(DbFileKind.Wal);
        File.Move(walPath, System.IO.Path.Combine(Path, "wal.removed"), overwrite: true);
        return 0;
    }

    /// <summary>Rolls back a hot journal: writes its saved pages back and restores the original size.</summary>
    private void RollbackJournal()
    {
        AssertSync();
        var journal = Handle(DbFileKind.Journal, create: false);
        if (journal is null)
        {
            return;
        }
        var database = Handle(DbFileKind.Database, create: false);
        var fileSize = RandomAccess.GetLength(journal);
        Span<byte> header = stackalloc byte[JournalLayout.HeaderSize];
        long offset = 0;
        int sectorSize = 0, pageSize = 0;
        long originalSize = -1;
        while (database is not null && offset + JournalLayout.HeaderSize <= fileSize)
        {
            RandomAccess.Read(journal, header, offset);
            if (!JournalLayout.HasMagic(header))
            {
                break;
            }
            var (nRec, nonce, origSize, segmentSectorSize, segmentPageSize) = JournalLayout.ReadHeader(header);
            if (offset == 0)
            {
                sectorSize = segmentSectorSize;
                pageSize = segmentPageSize;
                if (pageSize == 0)
                {
                    pageSize = PageSize;
                }
                if (!LtxLayout.IsValidPageSize(pageSize) || sectorSize < 32 || sectorSize > 65536 || (sectorSize & (sectorSize - 1)) != 0)
                {
                    break;
                }
                if (PageSize != 0 && pageSize != PageSize)
                {
                    throw new LiteFsException($"{Name}: hot journal page size {pageSize} differs from the database's {PageSize}");
                }
            }
            if (offset + sectorSize > fileSize)
            {
                break;
            }
            var recordSize = JournalLayout.RecordSize(pageSize);
            var position = offset + sectorSize;
            if (nRec is 0 or 0xFFFFFFFF)
            {
                nRec = (uint)((fileSize - position) / recordSize);
            }
            position = RollbackSegment(journal, database, position, nRec, nonce, pageSize, fileSize);
            originalSize = origSize;
            offset = (position + sectorSize - 1) / sectorSize * sectorSize;
        }
        if (originalSize >= 0 && database is not null)
        {
            PageSize = pageSize;
            RandomAccess.SetLength(database, originalSize * pageSize);
            RandomAccess.FlushToDisk(database);
            PageCount = (uint)originalSize;
            _host.Invalidator.InvalidateData(Name, DbFileKind.Database, 0, -1);
            DbLog.HotJournalRolledBack(_log, Name);
        }
        CloseHandle(DbFileKind.Journal);
        DeleteFile(FilePath(DbFileKind.Journal));
        // SQLite may have the journal open or cached (PERSIST, TRUNCATE): the kernel must look again.
        _host.Invalidator.InvalidateEntry(Name + "-journal");
        _journalActive = false;
        _dirty.Clear();
    }

    private long RollbackSegment(Microsoft.Win32.SafeHandles.SafeFileHandle journal, Microsoft.Win32.SafeHandles.SafeFileHandle database,
        long position, uint nRec, uint nonce, int pageSize, long fileSize)
    {
        var recordSize = JournalLayout.RecordSize(pageSize);
        var buffer = ArrayPool<byte>.Shared.Rent(recordSize);
        try
        {
            var record = buffer.AsSpan(0, recordSize);
            for (uint i = 0; i < nRec && position + recordSize <= fileSize; i++)
            {
                if (RandomAccess.Read(journal, record, position) < recordSize)
                {
                    break;
                }
                var pgno = JournalLayout.RecordPgno(record);
                var data = JournalLayout.RecordPage(record, pageSize);
                if (!JournalLayout.RecordChecksumMatches(record, pageSize, nonce) || pgno == 0)
                {
                    break;
                }
                RandomAccess.Write(database, data, (long)(pgno - 1) * pageSize);
                if (pgno != LtxLayout.LockPageNumber(pageSize))
                {
                    _checksums.SetDatabase(pgno, Checksum.OfPage(pgno, data));
                }
                position += recordSize;
            }
            return position;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The node's own checkpoint: copies every committed transaction in the WAL into the
    /// database file, truncates the WAL, and (optionally) rewrites the SHM header.
    /// </summary>
    internal void CheckpointWal(bool rewriteShm = true, long limit = long.MaxValue)
    {
        AssertSync();
        _recorder.Settle(durable: true);
        var database = Handle(DbFileKind.Database, create: false);
        var wal = Handle(DbFileKind.Wal, create: false);
        if (database is null || wal is null)
        {
            return;
        }
        WalReader? reader;
        try
        {
            reader = WalReader.Open(wal);
        }
        catch (InvalidDataException ex)
        {
            DbLog.WalIgnored(_log, Name, ex.Message);
            reader = null;
        }
        if (reader is not null)
        {
            var pageSize = reader.Header.PageSize;
            var pending = new Dictionary<uint, long>();
            var committed = new Dictionary<uint, long>();
            uint commitSize = 0;
            var buffer = new byte[pageSize];
            while (reader.NextOffset + pageSize + WalHeader.FrameHeaderSize <= limit && reader.ReadFrame(buffer, out var frame))
            {
                pending[frame.Pgno] = reader.Offset;
                if (frame.Commit != 0)
                {
                    foreach (var (p, o) in pending)
                    {
                        committed[p] = o;
                    }
                    pending.Clear();
                    commitSize = frame.Commit;
                }
            }
            foreach (var (pgno, frameOffset) in committed.OrderBy(x => x.Key))
            {
                RandomAccess.Read(wal, buffer, frameOffset + WalHeader.FrameHeaderSize);
                RandomAccess.Write(database, buffer, (long)(pgno - 1) * pageSize);
                if (PageSize == pageSize && pgno != LockPgno)
                {
                    _checksums.SetDatabase(pgno, Checksum.OfPage(pgno, buffer));
                }
            }
            if (commitSize > 0)
            {
                RandomAccess.SetLength(database, (long)commitSize * pageSize);
                RandomAccess.FlushToDisk(database);
                PageCount = commitSize;
                _checksums.Truncate(commitSize);
                _host.Invalidator.InvalidateData(Name, DbFileKind.Database, 0, -1);
            }
        }
        if (limit != long.MaxValue)
        {
            // Frames after the limit are still to be recorded; the WAL stays as it is.
            return;
        }
        RandomAccess.SetLength(wal, 0);
        _recorder.Rewind();
        if (rewriteShm)
        {
            RewriteShmHeader();
        }
    }
}
