using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// Start-up over a data directory whose files were damaged: a flipped byte or a cut in an LTX
/// file, a database file that is not SQLite, a missing LTX folder. A primary never rolls back or
/// deletes what may be the only copy of a committed transaction; a replica starts again from its
/// primary's snapshot. Each case says in the log what was found.
/// </summary>
public sealed class DamagedFilesTests : IDisposable
{
    private const string Scenario = "delete-1024";
    private const string Name = "app.db";

    /// <summary>The position of <see cref="Scenario"/>'s database after its fifth (last) transaction.</summary>
    private const string Txid5Pos = "0000000000000005/e415b20785273d2a";

    private readonly TempDir _temp = new("litefs-damage");
    private readonly LogRecorder _log = new();

    private string DbDir => Path.Combine(_temp.Path, "dbs", Name);

    private string LtxDir => Path.Combine(DbDir, "ltx");

    private string DbFile => Path.Combine(DbDir, "database");

    private static string Golden(params string[] parts) => Path.Combine([RepoPaths.Golden, Scenario, .. parts]);

    private static string LtxName(int min, int max) => LtxFileName.Format(new TxId((ulong)min), new TxId((ulong)max));

    private Store NewStore(bool primary) => new(new StoreOptions
    {
        DataDir = _temp.Path,
        Lease = new StaticLease(primary, "primary", "http://127.0.0.1:1"),
        RetentionMonitorInterval = TimeSpan.Zero,
        OnFatal = ex => throw ex,
    }, _log);

    /// <summary>The database as of TXID <paramref name="state"/> and the LTX files <paramref name="first"/>..<paramref name="last"/>.</summary>
    private void Seed(int state, int first = 1, int last = 5)
    {
        Directory.CreateDirectory(LtxDir);
        File.Copy(Golden("states", $"txid-{state}.database"), DbFile);
        for (var i = first; i <= last; i++)
        {
            File.Copy(Golden("ltx", LtxName(i, i)), Path.Combine(LtxDir, LtxName(i, i)));
        }
        foreach (var file in Directory.EnumerateFiles(_temp.Path, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
    }

    /// <summary>Flips one bit in the middle of a file: its length stays, its checksum no longer matches.</summary>
    private static void FlipByte(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
    }

    private static (LtxHeader Header, LtxTrailer Trailer) Verify(string path)
    {
        using var stream = File.OpenRead(path);
        var (header, trailer, _) = LtxDecoder.Verify(stream);
        return (header, trailer);
    }

    [Fact]
    public void Open_PrimaryNewestLtxCorrupt_KeepsItsTransactionAsSnapshot()
    {
        Seed(state: 5);
        var newest = Path.Combine(LtxDir, LtxName(5, 5));
        FlipByte(newest);
        using (var store = NewStore(primary: true))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        var (header, trailer) = Verify(Path.Combine(LtxDir, LtxName(1, 5)));
        Assert.True(header.IsSnapshot);
        Assert.Equal("e415b20785273d2a", trailer.PostApplyChecksum.ToString());
        Assert.False(File.Exists(newest));
        Assert.True(File.Exists(newest + ".corrupt"), "the damaged file is set aside, not deleted");
        _log.AssertLogged("0000000000000005-0000000000000005.ltx is damaged");
        _log.AssertLogged("the database holds its transaction");

        // The history rebuilt from the database is what the next start-up reads.
        using var again = NewStore(primary: true);
        again.Open();
        Assert.Equal(Txid5Pos, again.Find(Name)!.Pos.ToString());
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
    }

    [Fact]
    public void Open_PrimaryNewestLtxCut_DatabaseHoldsMore_SnapshotsInsteadOfRollingBack()
    {
        // The newest file is cut short, but the database already holds a later state than the
        // file before it: the node cannot tell what is in the database, so it keeps it as it is.
        Seed(state: 5);
        var newest = Path.Combine(LtxDir, LtxName(5, 5));
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..150]);
        using var store = NewStore(primary: true);
        store.Open();
        var db = store.Find(Name)!;
        Assert.Equal("0000000000000006/e415b20785273d2a", db.Pos.ToString());
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        Assert.True(Verify(Path.Combine(LtxDir, LtxName(1, 6))).Header.IsSnapshot);
        Assert.True(File.Exists(newest + ".corrupt"));
        _log.AssertLogged("is cut short");
        _log.AssertLogged("new snapshot");
    }

    [Fact]
    public void Open_ReplicaNewestLtxCorrupt_DiscardedForAFreshSnapshot()
    {
        Seed(state: 5);
        FlipByte(Path.Combine(LtxDir, LtxName(5, 5)));
        using var store = NewStore(primary: false);
        store.Open();
        var db = store.Find(Name)!;
        Assert.Equal(Pos.Zero, db.Pos);
        Assert.False(File.Exists(DbFile));
        Assert.Empty(Directory.GetFiles(LtxDir, "*.ltx"));
        _log.AssertLogged("cannot be recovered on this replica");
        _log.AssertLogged("0000000000000005-0000000000000005.ltx is damaged");
    }

    [Fact]
    public void Open_PrimaryDatabaseNotSqlite_RebuiltFromLtxFiles()
    {
        Seed(state: 5);
        File.WriteAllBytes(DbFile, File.ReadAllBytes(DbFile)[..50]);
        using (var store = NewStore(primary: true))
        {
            store.Open();
            var db = store.Find(Name)!;
            Assert.Equal(Txid5Pos, db.Pos.ToString());
            Assert.Equal(db.Pos.PostApplyChecksum, db.ComputeChecksum());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        Assert.Equal(50, new FileInfo(DbFile + ".corrupt").Length);
        Assert.Equal(5, Directory.GetFiles(LtxDir, "*.ltx").Length);
        _log.AssertLogged("is not a SQLite database");
        _log.AssertLogged("rebuilt from LTX files 0000000000000001-0000000000000001.ltx to 0000000000000005-0000000000000005.ltx");
    }

    [Fact]
    public void Open_PrimaryDatabaseNotSqlite_HistoryWithoutStart_RefusesAndChangesNothing()
    {
        Seed(state: 5, first: 2);
        File.WriteAllBytes(DbFile, File.ReadAllBytes(DbFile)[..50]);
        using var store = NewStore(primary: true);
        var ex = Assert.Throws<LiteFsException>(store.Open);
        Assert.Contains(DbFile, ex.Message, StringComparison.Ordinal);
        Assert.Contains("is not a SQLite database", ex.Message, StringComparison.Ordinal);
        Assert.Contains("litefs recover -name app.db", ex.Message, StringComparison.Ordinal);
        Assert.Equal(50, new FileInfo(DbFile).Length);
        Assert.Equal(4, Directory.GetFiles(LtxDir, "*.ltx").Length);
    }

    [Fact]
    public void Open_PrimaryDatabaseNotSqlite_NoHistory_Refuses()
    {
        Seed(state: 5, first: 1, last: 0);
        File.WriteAllBytes(DbFile, File.ReadAllBytes(DbFile)[..50]);
        using var store = NewStore(primary: true);
        var ex = Assert.Throws<LiteFsException>(store.Open);
        Assert.Contains("there is no LTX file to rebuild it from", ex.Message, StringComparison.Ordinal);
        Assert.Equal(50, new FileInfo(DbFile).Length);
    }

    [Fact]
    public void Open_ReplicaDatabaseNotSqlite_DiscardedToBeReplicatedAgain()
    {
        Seed(state: 5);
        File.WriteAllBytes(DbFile, File.ReadAllBytes(DbFile)[..50]);
        using var store = NewStore(primary: false);
        store.Open();
        Assert.Equal(Pos.Zero, store.Find(Name)!.Pos);
        Assert.False(File.Exists(DbFile));
        _log.AssertLogged("is not a SQLite database; discarding its folder on this replica, it will be replicated again");
    }

    [Fact]
    public void Open_PrimaryWithoutLtxFolder_SnapshotsTheDatabase()
    {
        Seed(state: 5);
        Directory.Delete(LtxDir, recursive: true);
        using var store = NewStore(primary: true);
        store.Open();
        Assert.Equal("0000000000000001/e415b20785273d2a", store.Find(Name)!.Pos.ToString());
        Assert.True(Verify(Path.Combine(LtxDir, LtxName(1, 1))).Header.IsSnapshot);
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("has pages but no LTX history");
    }

    [Fact]
    public void Open_ReplicaWithoutLtxFolder_WaitsForASnapshot()
    {
        Seed(state: 5);
        Directory.Delete(LtxDir, recursive: true);
        using var store = NewStore(primary: false);
        store.Open();
        Assert.Equal(Pos.Zero, store.Find(Name)!.Pos);
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("has pages but no LTX history");
    }

    [Fact]
    public void RecoverHistory_ReplacesTheHistoryWithASnapshotAfterItsLastTxId()
    {
        Seed(state: 5, first: 2);
        FlipByte(Path.Combine(LtxDir, LtxName(5, 5)));
        using (var store = NewStore(primary: true))
        {
            var (pos, setAside) = store.RecoverHistory(Name);
            Assert.Equal("0000000000000006/e415b20785273d2a", pos.ToString());
            Assert.Equal(
                [LtxName(2, 2), LtxName(3, 3), LtxName(4, 4), LtxName(5, 5)],
                Directory.GetFiles(setAside!).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        }
        Assert.Equal([LtxName(1, 6)], Directory.GetFiles(LtxDir).Select(Path.GetFileName));
        using var again = NewStore(primary: true);
        again.Open();
        Assert.Equal("0000000000000006/e415b20785273d2a", again.Find(Name)!.Pos.ToString());
    }

    /// <summary>Writes pages of an LTX file into the database file, as an apply does, stopping where <paramref name="which"/> says.</summary>
    private void WritePagesOf(string ltxFile, Func<int, uint, bool> which)
    {
        using var file = File.OpenRead(ltxFile);
        using var decoder = new LtxDecoder(file);
        var header = decoder.ReadHeader();
        var page = new byte[header.PageSize];
        using var db = File.OpenHandle(DbFile, FileMode.Open, FileAccess.ReadWrite);
        for (var i = 0; decoder.ReadPage(out var ph, page); i++)
        {
            if (which(i, ph.Pgno))
            {
                RandomAccess.Write(db, page, (long)(ph.Pgno - 1) * header.PageSize);
            }
        }
    }

    [Fact]
    public void Open_PrimaryNewestLtxRemoved_KeepsTheDatabaseAsANewSnapshot()
    {
        // The database holds TXID 5, but its LTX file is gone: applying file 4 again would roll
        // transaction 5 back. The database is kept and becomes the history.
        Seed(state: 5, last: 4);
        using (var store = NewStore(primary: true))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        Assert.True(Verify(Path.Combine(LtxDir, LtxName(1, 5))).Header.IsSnapshot);
        _log.AssertLogged("is past its newest LTX file 0000000000000004-0000000000000004.ltx");
        _log.AssertLogged("never rolling it back");

        using var again = NewStore(primary: true);
        again.Open();
        Assert.Equal(Txid5Pos, again.Find(Name)!.Pos.ToString());
    }

    [Fact]
    public void Open_ReplicaNewestLtxRemoved_DiscardedForAFreshSnapshot()
    {
        Seed(state: 5, last: 4);
        using var store = NewStore(primary: false);
        store.Open();
        Assert.Equal(Pos.Zero, store.Find(Name)!.Pos);
        Assert.False(File.Exists(DbFile));
        _log.AssertLogged("is not at its newest LTX file 0000000000000004-0000000000000004.ltx");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_ApplyInterruptedAfterItsFirstPage_IsCompleted(bool primary)
    {
        // Killed while applying file 5 (two pages, shrinking the database from 12): its first
        // page is written, the second and the new size are not.
        Seed(state: 4, last: 5);
        WritePagesOf(Path.Combine(LtxDir, LtxName(5, 5)), (i, _) => i == 0);
        using (var store = NewStore(primary))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("an apply of LTX file 0000000000000005-0000000000000005.ltx was interrupted (1 of its 2 pages were written)");
    }

    [Fact]
    public void Open_ApplyInterruptedBeforeItsFirstPage_IsCompleted()
    {
        Seed(state: 4, last: 5);
        using (var store = NewStore(primary: true))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("(0 of its 2 pages were written)");
    }

    [Fact]
    public void Open_PrimaryDatabaseNotAsAnyApplyLeavesIt_RefusesAndChangesNothing()
    {
        // Only the second of file 4's pages is in the database: an interrupted apply writes them
        // in order, so this is not one; nor do the files show the database past file 4.
        Seed(state: 3, last: 4);
        WritePagesOf(Path.Combine(LtxDir, LtxName(4, 4)), (i, _) => i == 1);
        var before = File.ReadAllBytes(DbFile);
        using var store = NewStore(primary: true);
        var ex = Assert.Throws<LiteFsException>(store.Open);
        Assert.Contains("cannot tell whether an apply of that file was interrupted or the database is past it", ex.Message, StringComparison.Ordinal);
        Assert.Contains("litefs recover -name app.db", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(DbFile));
        Assert.Equal(4, Directory.GetFiles(LtxDir, "*.ltx").Length);
    }

    /// <summary>The <c>applying</c> file a node leaves: the TXID range of the file it was applying, or zeros.</summary>
    private void WriteApplyMarker(ulong min, ulong max)
    {
        var bytes = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, min);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), max);
        File.WriteAllBytes(Path.Combine(DbDir, "applying"), bytes);
    }

    [Fact]
    public void Open_ApplyMarkerNamesTheNewestFile_TheApplyIsCompleted()
    {
        // Its second page only: the pages alone would be unclear, the marker says what happened.
        Seed(state: 3, last: 4);
        WritePagesOf(Path.Combine(LtxDir, LtxName(4, 4)), (i, _) => i == 1);
        WriteApplyMarker(4, 4);
        using (var store = NewStore(primary: true))
        {
            store.Open();
            Assert.Equal(Verify(Path.Combine(LtxDir, LtxName(4, 4))).Trailer.PostApplyChecksum, store.Find(Name)!.Pos.PostApplyChecksum);
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-4.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("the node was stopped while writing its pages");
        Assert.Equal(new byte[16], File.ReadAllBytes(Path.Combine(DbDir, "applying")));
    }

    [Fact]
    public void Open_ApplyMarkerSaysNoApply_DatabaseKeptEvenWhenItsPagesLookLikeOne()
    {
        // The database's pages look like an apply of file 4 stopped after its first page, but
        // the node was applying nothing when it stopped: the database is past file 4.
        Seed(state: 3, last: 4);
        WritePagesOf(Path.Combine(LtxDir, LtxName(4, 4)), (i, _) => i == 0);
        WriteApplyMarker(0, 0);
        var before = File.ReadAllBytes(DbFile);
        using var store = NewStore(primary: true);
        store.Open();
        Assert.Equal(5ul, store.Find(Name)!.Pos.TxId.Value);
        Assert.Equal(before, File.ReadAllBytes(DbFile));
        _log.AssertLogged("no apply was in progress when the node stopped");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_NewestFileStoredBeforeItsApplyBegan_IsApplied(bool primary)
    {
        // A replica renames a received file into place, then applies it: killed in between, the
        // marker is zero and the database is the state before the file, not past it.
        Seed(state: 4, last: 5);
        WriteApplyMarker(0, 0);
        using (var store = NewStore(primary))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Golden("states", "txid-5.database")), File.ReadAllBytes(DbFile));
        _log.AssertLogged("the file was stored and its apply had not begun");
        Assert.Equal(new byte[16], File.ReadAllBytes(Path.Combine(DbDir, "applying")));
    }

    [Fact]
    public void ApplyLtxFile_LeavesTheMarkerAtZero()
    {
        Seed(state: 4, last: 5);
        Assert.False(File.Exists(Path.Combine(DbDir, "applying")));
        using (var store = NewStore(primary: false))
        {
            store.Open();
            Assert.Equal(Txid5Pos, store.Find(Name)!.Pos.ToString());
        }
        Assert.Equal(new byte[16], File.ReadAllBytes(Path.Combine(DbDir, "applying")));
    }

    public void Dispose() => _temp.Dispose();
}
