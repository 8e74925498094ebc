using System.Globalization;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>
/// Start-up over damaged files. The rule: data that may be the only copy of a committed
/// transaction (the database on a primary, the WAL, LTX files) is never deleted or rolled back on
/// the node's own judgement. A damaged LTX file is compared with the database before anything is
/// decided; a primary whose history cannot describe its database records the database as it is
/// as a new snapshot; a primary whose database is damaged is rebuilt from its LTX files, or
/// refuses to start with what it found and what the operator can do. A replica's copy is only a
/// copy: damage there means a fresh snapshot from the primary.
/// </summary>
public sealed partial class Db
{
    /// <summary>Where the LTX files replaced by <see cref="RecoverHistory"/> are kept: <c>ltx.replaced.TIME</c> beside <c>ltx</c>.</summary>
    private const string ReplacedHistoryPrefix = "ltx.replaced.";

    /// <summary>
    /// The LTX history as start-up finds it: the newest file that verifies, and the newer ones
    /// that do not (newest first).
    /// </summary>
    private sealed record LtxHistory(LtxFileCheck? Newest, IReadOnlyList<LtxFileCheck> Damaged)
    {
        /// <summary>
        /// The header the WAL is reconciled with: a corrupt newest file's, when it reads (the WAL
        /// may still hold its transaction, which belongs before what follows), else the newest
        /// intact file's. A cut file's transaction, if SQLite committed it, is recovered from the
        /// WAL after the intact file.
        /// </summary>
        public LtxHeader? WalBase =>
            Damaged is [{ Damage: LtxDamage.Corrupt, Header: { } header }, ..] ? header : Newest?.Header;
    }

    /// <summary>
    /// Verifies the LTX files from the newest down to the first that verifies. A replica accepts
    /// only a newest file cut short by a write that never finished (set aside, the one before it
    /// is the position); anything else on a replica is thrown, and the store replaces the copy.
    /// </summary>
    private LtxHistory ExamineHistory()
    {
        var files = LtxFiles();
        var damaged = new List<LtxFileCheck>();
        LtxFileCheck? newest = null;
        for (var i = files.Count - 1; i >= 0 && newest is null; i--)
        {
            var check = LtxFileCheck.Run(files[i].Path);
            if (check.Damage == LtxDamage.None)
            {
                newest = check;
            }
            else
            {
                damaged.Add(check);
            }
        }
        if (!_host.IsWritable(this) && damaged.Count > 0 && (damaged.Count > 1 || damaged[0].Damage != LtxDamage.Cut || newest is null))
        {
            throw new LiteFsException($"LTX file {damaged[^1].FileName} {damaged[^1].Description}");
        }
        return new LtxHistory(newest, damaged);
    }

    /// <summary>Moves the damaged files out of the history (renamed <c>NAME.corrupt</c>, never deleted).</summary>
    private void SetAside(LtxHistory history)
    {
        foreach (var damaged in history.Damaged)
        {
            DbLog.LtxSetAside(_log, Name, damaged.FileName, damaged.Description);
            File.Move(damaged.Path, damaged.Path + ".corrupt", overwrite: true);
        }
        if (history.Damaged.Count > 0)
        {
            Posix.FsyncDirectory(LtxDir);
        }
    }

    /// <summary>
    /// After recovery, with newer LTX files damaged: decides the position by comparing the
    /// database with them. If the database holds the damaged file's transaction (its size and
    /// checksum are the file's trailer's), the position stays there and the file is made again
    /// from the database as a snapshot. If it is at the newest intact file, that is the position
    /// (the damaged file's transaction never reached it; in WAL mode the WAL recovers it if SQLite
    /// committed it). Otherwise a primary records the database as it is as a new snapshot after
    /// every TXID it knows: never a rollback.
    /// </summary>
    private void ResolveDamage(LtxHistory history)
    {
        AssertSync();
        var damaged = history.Damaged[0];
        var hasPages = HasPages;
        var checksum = hasPages ? _checksums.Compute(PageCount, PageSize) : Checksum.Flag;
        if (hasPages && damaged is { Header: { } header, Trailer: { } trailer }
            && header.PageSize == PageSize && header.Commit == PageCount && trailer.PostApplyChecksum == checksum)
        {
            DbLog.DamagedLtxInDatabase(_log, Name, damaged.FileName, header.MaxTxId, checksum);
            RecordSnapshot(header.MaxTxId);
            return;
        }
        if (history.Newest is { Header: { } newestHeader, Trailer: { } newestTrailer } newest)
        {
            if (newestHeader.Commit == 0 && !hasPages)
            {
                DbLog.DamagedLtxNotInDatabase(_log, Name, damaged.FileName, newest.FileName);
                ApplyLtxFile(newest.Path, verified: true);
                return;
            }
            if (newestHeader.Commit > 0 && HoldsAlready(newest.Path, newestHeader, newestTrailer))
            {
                DbLog.DamagedLtxNotInDatabase(_log, Name, damaged.FileName, newest.FileName);
                RandomAccess.FlushToDisk(RequireHandle(DbFileKind.Database, create: false));
                AppliedAt(newestHeader, newestTrailer);
                return;
            }
        }
        else if (!hasPages)
        {
            // The first transaction's file, cut short, and a database that never got its pages.
            DbLog.DamagedLtxNotInDatabase(_log, Name, damaged.FileName, "position zero");
            _pos = Pos.Zero;
            return;
        }
        if (!_host.IsWritable(this))
        {
            throw new LiteFsException($"LTX file {damaged.FileName} {damaged.Description}, and the database is not at the LTX file before it");
        }
        if (!hasPages)
        {
            throw new LiteFsException(
                $"LTX file {damaged.FileName} {damaged.Description}, and the database file {FilePath(DbFileKind.Database)} holds no pages, so the node cannot tell what was committed; " +
                $"nothing was changed beyond setting the file aside as {damaged.FileName}.corrupt. Copy the database from a replica or a backup to {FilePath(DbFileKind.Database)}, " +
                $"then run 'litefs recover -name {Name}' to make it the start of a new history");
        }
        var next = HighestKnownTxId().Next;
        DbLog.DamagedLtxNewSnapshot(_log, Name, damaged.FileName, next);
        RecordSnapshot(next);
    }

    /// <summary>
    /// No LTX file at all: an empty database starts at position zero. A database with pages and
    /// no history (its <c>ltx</c> folder was removed) is recorded as it is as a new snapshot on a
    /// primary, so that replicas receive it; a replica waits for its primary's snapshot.
    /// </summary>
    private void StartWithoutHistory()
    {
        AssertSync();
        _pos = Pos.Zero;
        if (!HasPages)
        {
            return;
        }
        if (!_host.IsWritable(this))
        {
            DbLog.NoHistoryOnReplica(_log, Name, PageCount);
            return;
        }
        var txid = HighestKnownTxId().Next;
        DbLog.NoHistory(_log, Name, PageCount, txid);
        RecordSnapshot(txid);
    }

    /// <summary>Whether the database file has pages the node knows of (page size, page count and a file).</summary>
    private bool HasPages => PageSize > 0 && PageCount > 0 && Handle(DbFileKind.Database, create: false) is { } handle && RandomAccess.GetLength(handle) > 0;

    /// <summary>
    /// The highest TXID any LTX file of this database was named with: the history, files set
    /// aside as damaged, and histories replaced by <see cref="RecoverHistory"/>. A new snapshot
    /// goes after it, so no replica holds its TXID with other contents.
    /// </summary>
    private TxId HighestKnownTxId()
    {
        var highest = TxId.Zero;
        var dirs = new List<string> { LtxDir };
        if (Directory.Exists(Path))
        {
            dirs.AddRange(Directory.EnumerateDirectories(Path, ReplacedHistoryPrefix + "*"));
        }
        foreach (var dir in dirs.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                var name = System.IO.Path.GetFileName(file);
                var end = name.IndexOf(".ltx", StringComparison.Ordinal);
                if (end > 0 && LtxFileName.TryParse(name.AsSpan(0, end + 4), out _, out var max) && max.Value > highest.Value)
                {
                    highest = max;
                }
            }
        }
        return highest;
    }

    /// <summary>
    /// A primary's database file is not SQLite (or is missing or empty while its history holds
    /// pages): it is rebuilt by applying the LTX files from the newest snapshot among them to the
    /// newest file, into a new file renamed over it; the damaged file is kept as
    /// <c>database.corrupt</c>. When the history cannot rebuild it, start-up is refused and
    /// nothing is changed.
    /// </summary>
    private void RebuildDatabase(LtxHistory history, long length)
    {
        AssertSync();
        var dbPath = FilePath(DbFileKind.Database);
        var found = length switch
        {
            < 0 => "is missing although its LTX history holds pages",
            0 => "is empty although its LTX history holds pages",
            _ => $"is not a SQLite database ({length} bytes without a SQLite header)",
        };
        if (history.Damaged.Count > 0)
        {
            throw Refusal(dbPath, found, $"its newest LTX file {history.Damaged[0].FileName} {history.Damaged[0].Description} as well");
        }
        if (history.Newest is null)
        {
            if (length > 0 && HoldsOnlyZeros(dbPath))
            {
                // Never written (space allocated, no page): nothing to lose, nothing to rebuild.
                DbLog.ZeroDatabaseSetAside(_log, Name, dbPath, length);
                CloseHandle(DbFileKind.Database);
                File.Move(dbPath, dbPath + ".corrupt", overwrite: true);
                return;
            }
            throw Refusal(dbPath, found, "there is no LTX file to rebuild it from");
        }
        var chain = HistoryChain(history.Newest.Path);
        if (chain.Count == 0)
        {
            var oldest = LtxFiles()[0];
            throw Refusal(dbPath, found,
                $"its LTX history does not start from a snapshot (the oldest file is {System.IO.Path.GetFileName(oldest.Path)}; older files were removed by retention), so it cannot be rebuilt");
        }

        var temp = System.IO.Path.Combine(Path, "database.rebuild.tmp");
        DeleteFile(temp);
        Pos pos;
        try
        {
            using var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite);
            var applier = new LtxApplier(handle, temp);
            foreach (var file in chain)
            {
                using var stream = File.OpenRead(file);
                applier.Apply(stream, System.IO.Path.GetFileName(file));
            }
            RandomAccess.FlushToDisk(handle);
            pos = applier.Position;
        }
        catch (Exception ex) when (ex is LtxFormatException or InvalidDataException)
        {
            DeleteFile(temp);
            throw Refusal(dbPath, found, $"rebuilding it from its LTX files failed: {ex.Message}");
        }
        CloseHandle(DbFileKind.Database);
        if (length >= 0)
        {
            File.Move(dbPath, dbPath + ".corrupt", overwrite: true);
        }
        File.Move(temp, dbPath);
        Posix.FsyncDirectory(Path);
        DbLog.DatabaseRebuilt(_log, Name, dbPath, found, System.IO.Path.GetFileName(chain[0]), System.IO.Path.GetFileName(chain[^1]), pos);
    }

    private static bool HoldsOnlyZeros(string path)
    {
        var buffer = new byte[64 * 1024];
        using var file = File.OpenRead(path);
        int n;
        while ((n = file.Read(buffer)) > 0)
        {
            if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The refusal to open a primary's damaged database: what was found, that nothing changed, and what the operator can do.</summary>
    private LiteFsException Refusal(string dbPath, string found, string reason) => new(
        $"{dbPath} {found}, and {reason}; nothing was changed. Copy the database from a replica or a backup to {dbPath}, " +
        $"then run 'litefs recover -name {Name}' to make it the start of a new history");

    /// <summary>
    /// The stored files that rebuild the database up to <paramref name="newest"/>: each one's
    /// first TXID follows the previous one's last, back to the newest snapshot (first TXID 1).
    /// Empty when a file is missing on the way.
    /// </summary>
    private List<string> HistoryChain(string newest)
    {
        var files = LtxFiles();
        var chain = new List<string>();
        var current = files.FindLast(f => f.Path == newest);
        while (current.Path is not null)
        {
            chain.Add(current.Path);
            if (current.Min.Value == 1)
            {
                chain.Reverse();
                return chain;
            }
            var before = current.Min.Value - 1;
            current = files.FindLast(f => f.Max.Value == before);
        }
        return [];
    }

    /// <summary>
    /// Makes a new history for the database as it is (<c>litefs recover</c>, with the node
    /// stopped): moves the LTX folder aside to <c>ltx.replaced.TIME</c> (kept, never deleted),
    /// then opens the database as a primary with no history, which records a snapshot after the
    /// highest TXID ever used. Refused when the database file is not SQLite.
    /// </summary>
    /// <returns>The new position and the folder the previous files went to (null when there were none).</returns>
    internal (Pos Pos, string? SetAside) RecoverHistory()
    {
        using (EnterSync())
        {
            var dbPath = FilePath(DbFileKind.Database);
            if (!File.Exists(dbPath) || new FileInfo(dbPath).Length == 0 || !HasSqliteHeader(dbPath))
            {
                throw new LiteFsException($"{dbPath} is missing, empty or not a SQLite database: there is nothing to make a history from. Copy the database from a replica or a backup there first");
            }
            if (!_host.IsWritable(this))
            {
                throw new LiteFsException($"database {Name}: a new history is made on the primary; this node is a replica");
            }
            string? setAside = null;
            if (Directory.Exists(LtxDir) && Directory.EnumerateFileSystemEntries(LtxDir).Any())
            {
                setAside = System.IO.Path.Combine(Path, ReplacedHistoryPrefix + _host.Time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture));
                Directory.Move(LtxDir, setAside);
                Posix.FsyncDirectory(Path);
            }
            Open();
            DbLog.HistoryReplaced(_log, Name, _pos, setAside ?? "(there were none)");
            return (_pos, setAside);
        }
    }
}
