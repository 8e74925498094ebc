using LiteFs.Core;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// WAL transactions are recorded by the committer thread after SQLite released the WAL write
/// lock; when several committed meanwhile they become one LTX file (group commit). The committer
/// is held here so that transactions accumulate deterministically.
/// </summary>
public class GroupCommitTests
{
    private static ulong TxIdOf(string pos) => Pos.Parse(pos.TrimEnd()).TxId.Value;

    [Fact]
    public void PendingTransactions_BecomeOneFile_EndingAtATransactionThatShrinksTheDatabase()
    {
        using var node = new NodeFixture();
        var path = node.Path("app.db");
        Sql.Cli(path, "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);");
        var before = TxIdOf(File.ReadAllText(node.Path("app.db-pos")));
        var filesBefore = node.LtxFiles("app.db").Length;

        using (var connection = Sql.Open(path))
        {
            Sql.Exec(connection, "PRAGMA wal_autocheckpoint=0");
            using (node.Store.PauseCommitter())
            {
                for (var i = 0; i < 10; i++)
                {
                    Sql.Exec(connection, "INSERT INTO t (v) VALUES (randomblob(3000))");
                }
                Sql.Exec(connection, "DELETE FROM t WHERE id <= 8");
                Sql.Exec(connection, "VACUUM"); // the database shrinks: a file ends here
                for (var i = 0; i < 5; i++)
                {
                    Sql.Exec(connection, "INSERT INTO t (v) VALUES (randomblob(100))");
                }
                // Nothing is recorded while the committer is held and nothing settles the database.
                Assert.Equal(filesBefore, node.LtxFiles("app.db").Length);
            }
            // Reading the position settles whatever the committer has not recorded yet.
            Assert.Equal(before + 17, TxIdOf(File.ReadAllText(node.Path("app.db-pos"))));
            Assert.Equal("7", Sql.Scalar(connection, "SELECT count(*) FROM t")?.ToString());
        }

        var added = node.LtxFiles("app.db").Skip(filesBefore).Select(f => Path.GetFileName(f)).ToArray();
        Assert.Equal(
            [LtxFileName.Format(new TxId(before + 1), new TxId(before + 12)), LtxFileName.Format(new TxId(before + 13), new TxId(before + 17))],
            added);
        node.AssertReplicable("app.db");
    }

    [Fact]
    public void UnrecordedTransactions_OfANewWalGeneration_AreRecoveredFromTheWal()
    {
        using var node = new NodeFixture();
        var path = node.Path("app.db");
        Sql.Cli(path, "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB); INSERT INTO t (v) VALUES (randomblob(500));");
        using var image = new TempDir("litefs-image");
        string expected;
        using (var connection = Sql.Open(path))
        {
            Sql.Exec(connection, "PRAGMA wal_autocheckpoint=0");
            Sql.Exec(connection, "INSERT INTO t (v) VALUES (randomblob(500))");
            // The WAL is emptied: the next transaction starts a new WAL generation.
            Sql.Exec(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
            var recorded = TxIdOf(File.ReadAllText(node.Path("app.db-pos")));
            using (node.Store.PauseCommitter())
            {
                for (var i = 0; i < 4; i++)
                {
                    Sql.Exec(connection, "INSERT INTO t (v) VALUES (randomblob(700))");
                }
                // The files as a killed node leaves them: the four transactions only in the WAL.
                Assert.Equal(recorded, node.LtxFiles("app.db").Select(f => LtxFileName.TryParse(Path.GetFileName(f), out _, out var max) ? max.Value : 0).Max());
                NodeFixture.CopyTree(node.DataDir, image.Path);
            }
            expected = File.ReadAllText(node.Path("app.db-pos")).TrimEnd();
            Assert.Equal(recorded + 4, TxIdOf(expected));
        }

        using var store = new Store(new StoreOptions
        {
            DataDir = image.Path,
            Lease = new StaticLease(true, "localhost", "http://127.0.0.1:20202"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        store.Open();
        var db = store.Find("app.db")!;
        Assert.Equal(TxIdOf(expected), db.Pos.TxId.Value);
        using var file = File.OpenRead(db.FilePath(DbFileKind.Database));
        Assert.Equal(db.Pos.PostApplyChecksum, SqliteDatabase.ComputeChecksum(file));
    }
}
