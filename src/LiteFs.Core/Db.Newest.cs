using System.Buffers;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>
/// Start-up with a database that does not hold what its newest LTX file leaves. Two things look
/// alike here and must not be confused: an apply of that file that was interrupted (the node was
/// killed while writing its pages: applying it again completes it), and a database that is past
/// it (a newer LTX file was removed, or the database was changed some other way: applying the
/// file again would roll back committed transactions). The <see cref="ApplyMarker"/> says which
/// it is; without one (a data directory from an older node), the file's pages, the database's
/// size and, in rollback-journal mode, SQLite's change counter tell them apart, and what they
/// cannot tell apart a primary refuses rather than guesses.
/// </summary>
public sealed partial class Db
{
    /// <summary>What a database that does not hold its newest LTX file is, next to that file.</summary>
    private enum NewestComparison
    {
        /// <summary>An apply of the file stopped part-way: its first pages are written, the others are as before it.</summary>
        InterruptedApply,

        /// <summary>The database has changes the file cannot explain: it is past the history.</summary>
        Newer,

        /// <summary>Either of the two; the files do not say which.</summary>
        Unclear,
    }

    /// <summary>
    /// The database does not hold the newest LTX file. An interrupted apply is completed; a
    /// database past its history is, on a primary, recorded as it is as a new snapshot after
    /// every TXID the node knows (never rolled back); a replica's copy is thrown away for a
    /// fresh snapshot from its primary; a primary that cannot tell refuses to start, saying what
    /// it found and what the operator can do. Monitor.
    /// </summary>
    private void ReconcileWithNewest(LtxFileCheck newest, in LtxHeader header, in LtxTrailer trailer)
    {
        AssertSync();
        var (kind, why) = CompareWithNewest(newest.Path, header, trailer);
        switch (kind)
        {
            case NewestComparison.InterruptedApply:
                DbLog.CompletingInterruptedApply(_log, Name, newest.FileName, why);
                ApplyLtxFile(newest.Path, verified: true);
                return;
            case NewestComparison.Newer when _host.IsWritable(this):
                var next = HighestKnownTxId().Next;
                DbLog.DatabasePastHistory(_log, Name, newest.FileName, why, next);
                RecordSnapshot(next);
                return;
            case NewestComparison.Newer:
                throw new LiteFsException($"database {Name} is not at its newest LTX file {newest.FileName} ({why})");
            case NewestComparison.Unclear when _host.IsWritable(this):
                var dbPath = FilePath(DbFileKind.Database);
                throw new LiteFsException(
                    $"database {Name} does not match its newest LTX file {newest.FileName}, and the node cannot tell whether an apply of that file was interrupted " +
                    $"or the database is past it ({why}); nothing was changed. If a newer LTX file was removed, the database is the latest state: " +
                    $"run 'litefs recover -name {Name}' to make it the start of a new history. Otherwise copy the database from a replica or a backup to {dbPath} first");
            default:
                throw new LiteFsException($"database {Name} does not match its newest LTX file {newest.FileName} ({why})");
        }
    }

    /// <summary>
    /// Compares the database, as recovered and checksummed, with the newest LTX file it does not
    /// hold. An interrupted apply writes the file's pages in order and sets the file's size last,
    /// so it leaves: every page the file does not carry as it was; the file's first pages written
    /// and the rest as before (or none written, and then the database checksum is the file's
    /// pre-apply checksum); a size between the size before and the larger of that and the file's;
    /// and in rollback-journal mode a change counter no higher than the file's. Anything else is
    /// a database past the file.
    /// </summary>
    private (NewestComparison Kind, string Why) CompareWithNewest(string path, in LtxHeader header, in LtxTrailer trailer)
    {
        var (kind, why) = _applying.Read() switch
        {
            // The node recorded which file it was applying: the pages need not be read.
            (true, var min, var max) when min == header.MinTxId && max == header.MaxTxId
                => (NewestComparison.InterruptedApply, "the node was stopped while writing its pages"),
            // A replica stores a received file before its apply begins: killed in between, the
            // marker is still zero and the database is exactly the state before the file.
            (true, { Value: 0 }, _) when HasPages && !header.IsSnapshot && header.Commit > 0 && header.PageSize == PageSize
                && _checksums.Compute(PageCount, PageSize) == header.PreApplyChecksum
                => (NewestComparison.InterruptedApply, "the file was stored and its apply had not begun"),
            (true, { Value: 0 }, _) when HasPages && header.Commit > 0 && header.PageSize == PageSize
                => (NewestComparison.Newer, "no apply was in progress when the node stopped, and the database is not what the file leaves"),
            _ => CompareWithNewestPages(path, header, trailer),
        };
        // Past the history is kept as it is only when it is a whole database: mid-apply the
        // header's size may disagree with the file's, so this is checked only here.
        if (kind == NewestComparison.Newer && DatabaseHeader.CheckFile(FilePath(DbFileKind.Database)) is { } damage)
        {
            return (NewestComparison.Unclear, $"{why}, but the database file is not whole: {damage}");
        }
        return (kind, why);
    }

    private (NewestComparison Kind, string Why) CompareWithNewestPages(string path, in LtxHeader header, in LtxTrailer trailer)
    {
        AssertSync();
        if (!HasPages || header.Commit == 0 || header.PageSize != PageSize)
        {
            // Nothing to compare with, or a file that removes the database or cannot apply
            // (applying it says why): as before, the file is applied.
            return (NewestComparison.InterruptedApply, "the database has nothing the file does not replace");
        }
        var lockPgno = LtxLayout.LockPageNumber(PageSize);
        var carried = new Dictionary<uint, ulong>();
        var written = 0;        // leading pages the database holds as the file has them
        var prefix = true;      // no page held as the file has it after one that is not
        uint ltxCounter = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(PageSize);
        try
        {
            using var file = File.OpenRead(path);
            using var decoder = new LtxDecoder(file);
            decoder.ReadHeader();
            var page = buffer.AsSpan(0, PageSize);
            while (decoder.ReadPage(out var ph, page, out var checksum))
            {
                carried[ph.Pgno] = checksum.Value;
                if (ph.Pgno == 1 && !DatabaseHeader.IsWal(page))
                {
                    ltxCounter = DatabaseHeader.ReadChangeCounter(page);
                }
                var held = ph.Pgno <= PageCount && _checksums.GetDatabase(ph.Pgno) == checksum.Value;
                if (held && prefix && written == carried.Count - 1)
                {
                    written++;
                }
                else if (held)
                {
                    prefix = false;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // Every page the file does not carry must be as it was: the result of applying the file
        // to this database is then exactly the file's post-apply state.
        ulong xor = 0;
        for (uint pgno = 1; pgno <= header.Commit; pgno++)
        {
            if (pgno == lockPgno)
            {
                continue;
            }
            if (carried.TryGetValue(pgno, out var c))
            {
                xor ^= c;
            }
            else if (pgno <= PageCount)
            {
                xor ^= _checksums.GetDatabase(pgno);
            }
            else
            {
                return (NewestComparison.Newer, $"it has {PageCount} pages and the file, which grows it to {header.Commit}, does not carry page {pgno}");
            }
        }
        if (new Checksum(Checksum.FlagBit | xor) != trailer.PostApplyChecksum)
        {
            return (NewestComparison.Newer, "it differs from the file's result in pages the file does not write");
        }

        // The file's size, not the header's: mid-apply they disagree.
        var filePages = (uint)(RandomAccess.GetLength(RequireHandle(DbFileKind.Database, create: false)) / PageSize);
        if (!header.IsSnapshot && PreviousCommit(header) is { } before
            && (filePages < before || filePages > Math.Max(before, header.Commit)))
        {
            return (NewestComparison.Newer, $"its file has {filePages} pages, and an apply from {before} pages to {header.Commit} never leaves that many");
        }
        if (ltxCounter > 0 && Mode == JournalMode.Rollback && ReadChangeCounter() is var counter && counter > ltxCounter)
        {
            return (NewestComparison.Newer, $"its change counter is {counter}, the file's is {ltxCounter}: SQLite committed after it");
        }
        if (prefix && written > 0)
        {
            return (NewestComparison.InterruptedApply, $"{written} of its {carried.Count} pages were written");
        }
        if (prefix && !header.IsSnapshot)
        {
            // None of the file's pages is as it has them, and the others are as it leaves them:
            // an apply that wrote nothing leaves exactly the state before the file.
            return _checksums.Compute(PageCount, PageSize) == header.PreApplyChecksum
                ? (NewestComparison.InterruptedApply, $"0 of its {carried.Count} pages were written")
                : (NewestComparison.Newer, "none of the file's pages is as the file has it, and the database is not the state before the file either");
        }
        return (NewestComparison.Unclear, $"{written} of its {carried.Count} pages lead as the file has them, not the pattern an interrupted apply leaves");
    }

    /// <summary>The database size in pages before the file starting after <paramref name="header"/>'s predecessor: that file's commit, or null when it is not kept.</summary>
    private uint? PreviousCommit(in LtxHeader header)
    {
        var before = header.MinTxId.Value - 1;
        var previous = LtxFiles().FindLast(f => f.Max.Value == before);
        if (previous.Path is null)
        {
            return null;
        }
        try
        {
            using var file = File.OpenRead(previous.Path);
            using var decoder = new LtxDecoder(file);
            return decoder.ReadHeader().Commit;
        }
        catch (Exception ex) when (ex is IOException or LtxFormatException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>SQLite's file change counter in the database file's header.</summary>
    private uint ReadChangeCounter()
    {
        Span<byte> header = stackalloc byte[DatabaseHeader.Size];
        var n = RandomAccess.Read(RequireHandle(DbFileKind.Database, create: false), header, 0);
        return DatabaseHeader.ReadChangeCounter(header[..n]);
    }
}
