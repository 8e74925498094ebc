using System.Buffers;
using System.Buffers.Binary;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>How SQLite finalised a journal: the three rollback journal modes' commit points.</summary>
    internal enum JournalFinish
    {
        /// <summary>journal_mode=DELETE: the journal is unlinked.</summary>
        Delete,

        /// <summary>journal_mode=TRUNCATE: the journal is truncated to 0.</summary>
        Truncate,

        /// <summary>journal_mode=PERSIST: the journal header is overwritten with zeros.</summary>
        Zero,
    }

    private void WriteJournal(ReadOnlySpan<byte> data, long offset)
    {
        if (!_host.IsWritable(this))
        {
            throw Refused(new ReadOnlyReplicaException(Name));
        }
        if (JournalLayout.IsZeroedHeader(offset, data))
        {
            // PERSIST mode's commit point: the header is zeroed. Commit, then let the write through.
            CommitJournal(JournalFinish.Zero);
            RandomAccess.Write(RequireHandle(DbFileKind.Journal, create: true), data, offset);
            return;
        }
        using (EnterSync())
        {
            if (offset == 0 && data.Length >= JournalLayout.HeaderSize)
            {
                if (!_journalActive && _diskFull.IsFull)
                {
                    // A new transaction while the last one could not be recorded for lack of
                    // space: SQLite gets SQLITE_FULL before it changes anything.
                    throw DiskFullRefusal();
                }
                if (PageSize == 0 && JournalLayout.ReadPageSize(data) is var size && LtxLayout.IsValidPageSize(size))
                {
                    PageSize = (int)size;
                }
                _journalActive = true;
            }
            RandomAccess.Write(RequireHandle(DbFileKind.Journal, create: true), data, offset);
        }
    }

    private void TruncateJournal(long size)
    {
        if (size != 0)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"{Name}: the journal may only be truncated to 0 bytes (asked for {size}); journal_size_limit is not supported with PERSIST");
        }
        CommitJournal(JournalFinish.Truncate);
    }

    /// <summary>
    /// A rollback-journal transaction ends: if the journal has a valid header, the pages the
    /// transaction wrote become the next LTX file, then the journal is finalised as SQLite asked.
    /// </summary>
    internal void CommitJournal(JournalFinish finish)
    {
        if (!_host.IsWritable(this))
        {
            throw Refused(new LiteFsException(LiteFsError.Io, $"{Name}: cannot commit a journal on a read-only replica"));
        }
        using (EnterSync())
        {
            var journal = Handle(DbFileKind.Journal, create: false)
                ?? throw new LiteFsException(LiteFsError.NotFound, $"{Name}: no journal to commit");
            Span<byte> magic = stackalloc byte[8];
            var read = RandomAccess.Read(journal, magic, 0);
            if (read > 0 && read < magic.Length)
            {
                throw new LiteFsException($"{Name}: journal is shorter than its 8-byte magic; left in place");
            }
            // An empty journal holds nothing (its first write was refused): only finalised.
            if (read > 0 && JournalLayout.HasMagic(magic) && PageSize != 0)
            {
                bool recorded;
                try
                {
                    recorded = CommitJournalPages();
                }
                catch (Exception ex) when (DiskFullGuard.IsDiskFull(ex))
                {
                    // Nothing is recorded and the journal stays hot: SQLite's finalisation fails,
                    // and SQLite (or start-up) rolls the transaction back from it.
                    // A retry needs room for the journal as well as the file.
                    throw RecordingFailedForSpace(ex, alsoNeeded: RandomAccess.GetLength(journal));
                }
                if (recorded)
                {
                    RecordingResumed();
                }
            }
            FinishJournal(finish);
            _dirty.Clear();
            _journalActive = false;
        }
    }

    private void FinishJournal(JournalFinish finish)
    {
        AssertSync();
        switch (finish)
        {
            case JournalFinish.Delete:
                CloseHandle(DbFileKind.Journal);
                DeleteFile(FilePath(DbFileKind.Journal));
                break;
            case JournalFinish.Truncate:
                RandomAccess.SetLength(RequireHandle(DbFileKind.Journal), 0);
                break;
            default:
                Span<byte> zeros = stackalloc byte[JournalLayout.HeaderSize];
                zeros.Clear();
                RandomAccess.Write(RequireHandle(DbFileKind.Journal), zeros, 0);
                break;
        }
    }

    /// <summary>Records the journal's transaction as the next LTX file; false when there was nothing to record (a hot journal rolled back).</summary>
    private bool CommitJournalPages()
    {
        AssertSync();
        var database = RequireHandle(DbFileKind.Database, create: true);
        Span<byte> header = stackalloc byte[DatabaseHeader.Size];
        var n = RandomAccess.Read(database, header, 0);
        var commit = n < DatabaseHeader.Size ? 0u : DatabaseHeader.ReadPageCount(header);
        var txid = _pos.TxId.Next;
        var snapshot = txid.Value == 1;
        var lockPgno = LockPgno;

        // The first transaction is a snapshot by definition: it must carry every page.
        var pages = snapshot
            ? Enumerable.Range(1, (int)commit).Select(p => (uint)p).Where(p => p != lockPgno).ToArray()
            : _dirty.Where(p => p <= commit && p != lockPgno).Order().ToArray();

        _checksums.Truncate(commit);
        var post = _checksums.Compute(commit, PageSize);
        if (!snapshot && post == _pos.PostApplyChecksum && commit == PageCount)
        {
            // The pages are as the last recorded transaction left them: a hot journal rolled back
            // (a real commit always changes page 1's change counter). Nothing to record, and
            // nothing to forward to a primary under a borrowed HALT lock.
            return false;
        }
        var ltxHeader = NewHeader(txid, commit);
        var mode = JournalMode.Rollback;
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize);
        var encoder = _ltx.Begin(ltxHeader);
        try
        {
            var page = buffer.AsSpan(0, PageSize);
            foreach (var pgno in pages)
            {
                RandomAccess.Read(database, page, (long)(pgno - 1) * PageSize);
                var recorded = _checksums.GetDatabase(pgno);
                if (recorded == 0)
                {
                    throw new LiteFsException($"{Name}: updated page checksum not found for page {pgno}");
                }
                if (recorded != Checksum.OfPage(pgno, page).Value)
                {
                    throw new LiteFsException($"{Name}: updated page ({pgno}) does not match in-memory checksum");
                }
                if (pgno == 1)
                {
                    mode = DatabaseHeader.ReadMode(page);
                }
                encoder.WritePage(pgno, page);
            }
            FinishLtx(encoder, post);
        }
        finally
        {
            encoder.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
        PageCount = commit;
        Mode = mode;
        Committed(ltxHeader, post);
        return true;
    }
}
