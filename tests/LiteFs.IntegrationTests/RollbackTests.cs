using LiteFs.Ltx;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>Transactions that do not commit leave no LTX file, and replication carries on after them.</summary>
public class RollbackTests
{
    public static TheoryData<string> Modes => new() { "DELETE", "PERSIST", "TRUNCATE", "WAL" };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Rollback_ConstraintFailure_Savepoint_LeaveNoTrace(string journalMode)
    {
        using var node = new NodeFixture();
        var path = node.Path("app.db");
        using var connection = Sql.Open(path);
        Sql.Exec(connection, $"PRAGMA journal_mode = {journalMode}");
        Sql.Exec(connection, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)");
        Sql.Exec(connection, "INSERT INTO t (v) VALUES ('a'), ('b')");
        var files = node.LtxFiles("app.db").Length;
        var pos = File.ReadAllText(node.Path("app.db-pos"));

        // An explicit ROLLBACK after writes, large enough to spill pages to the database file.
        Sql.Exec(connection, "PRAGMA cache_size = 2");
        Sql.Exec(connection, "BEGIN");
        Sql.Exec(connection, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 500) INSERT INTO t (v) SELECT hex(randomblob(200)) FROM c");
        Sql.Exec(connection, "ROLLBACK");
        Sql.Exec(connection, "PRAGMA cache_size = -2000");

        // A constraint failure in the middle of a transaction, then a rollback.
        Sql.Exec(connection, "BEGIN");
        Sql.Exec(connection, "INSERT INTO t (v) VALUES ('c')");
        Assert.Throws<SqliteException>(() => Sql.Exec(connection, "INSERT INTO t (v) VALUES ('a')"));
        Sql.Exec(connection, "ROLLBACK");

        // A savepoint rolled back inside a transaction that then also rolls back.
        Sql.Exec(connection, "BEGIN");
        Sql.Exec(connection, "SAVEPOINT s1");
        Sql.Exec(connection, "INSERT INTO t (v) VALUES ('d')");
        Sql.Exec(connection, "ROLLBACK TO s1");
        Sql.Exec(connection, "RELEASE s1");
        Sql.Exec(connection, "ROLLBACK");

        // Rolled-back work that spilled pages may produce a file (its pages are the restored
        // originals); a file, if any, must leave the checksum where it was.
        Assert.Equal(2L, (long)Sql.Scalar(connection, "SELECT count(*) FROM t")!);
        var posAfter = File.ReadAllText(node.Path("app.db-pos"));
        Assert.Equal(pos[17..], posAfter[17..]);

        // Later transactions replicate normally (upstream issue #428): two more TXIDs, in one LTX
        // file or two (WAL transactions committed in quick succession may share one).
        Sql.Exec(connection, "INSERT INTO t (v) VALUES ('e')");
        Sql.Exec(connection, "BEGIN; SAVEPOINT s2; INSERT INTO t (v) VALUES ('f'); ROLLBACK TO s2; INSERT INTO t (v) VALUES ('g'); RELEASE s2; COMMIT");
        Assert.Equal(Pos.Parse(posAfter.TrimEnd()).TxId.Value + 2, Pos.Parse(File.ReadAllText(node.Path("app.db-pos")).TrimEnd()).TxId.Value);
        Assert.True(node.LtxFiles("app.db").Length > files);
        connection.Close();
        node.AssertReplicable("app.db");
    }

    [Fact]
    public void DeleteDatabase_RecordsDeletionFile_AndRecreationContinuesTxIds()
    {
        using var node = new NodeFixture();
        var path = node.Path("gone.db");
        Sql.Cli(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        File.Delete(path);
        Assert.False(File.Exists(path));
        var files = node.LtxFiles("gone.db");
        Assert.Equal(3, files.Length);
        using (var stream = File.OpenRead(files[^1]))
        {
            var (header, trailer, pages) = Ltx.LtxDecoder.Verify(stream);
            Assert.Equal((0u, 0), (header.Commit, pages));
            Assert.Equal(Ltx.Checksum.Flag, trailer.PostApplyChecksum);
        }
        Assert.DoesNotContain("gone.db", Directory.GetFileSystemEntries(node.MountPoint).Select(Path.GetFileName));

        Sql.Cli(path, "CREATE TABLE t (x); INSERT INTO t VALUES (2);");
        Assert.StartsWith("0000000000000005/", File.ReadAllText(node.Path("gone.db-pos")), StringComparison.Ordinal);
    }

    [Fact]
    public void Restart_RecoversPositionAndKeepsReplicating()
    {
        using var node = new NodeFixture();
        var path = node.Path("app.db");
        Sql.Cli(path, "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
        var pos = File.ReadAllText(node.Path("app.db-pos"));
        node.Restart();
        Assert.Equal(pos, File.ReadAllText(node.Path("app.db-pos")));
        Assert.Equal("3\n", Sql.Cli(path, "INSERT INTO t VALUES (3); SELECT count(*) FROM t;"));
        node.AssertReplicable("app.db");
    }

    // A node killed while writing NEXT.ltx.tmp leaves it behind; the first commit after a start
    // (before the pool of ready files has any) writes the same name. The file must be exactly
    // the new transaction, not the new bytes followed by the old file's tail.
    [Theory]
    [InlineData("WAL")]
    [InlineData("DELETE")]
    public void Commit_OverLongerLeftoverTempFile_WritesExactFile(string journalMode)
    {
        using var node = new NodeFixture();
        var path = node.Path("app.db");
        Sql.Cli(path, $"PRAGMA journal_mode={journalMode}; CREATE TABLE t (x);");
        node.Restart();
        var next = Pos.Parse(File.ReadAllText(node.Path("app.db-pos")).TrimEnd()).TxId.Next;
        var leftover = Path.Combine(node.DbDir("app.db"), "ltx", LtxFileName.Format(next, next) + ".tmp");
        var garbage = new byte[50_000];
        new Random(5).NextBytes(garbage);
        File.WriteAllBytes(leftover, garbage);
        Sql.Cli(path, "INSERT INTO t VALUES (1);");
        node.AssertReplicable("app.db");
    }

    [Fact]
    public void FsyncOfGeneratedFile_IsEio_AndNeverSwitchesOffFsyncForTheMount()
    {
        using var node = new NodeFixture();
        Sql.Cli(node.Path("app.db"), "CREATE TABLE t (x);");
        // ENOSYS here would make the kernel skip every later fsync of the mount, silently.
        for (var i = 0; i < 2; i++)
        {
            using var pos = File.OpenHandle(node.Path("app.db-pos"));
            Assert.Equal(-1, Native.Fsync(pos.DangerousGetHandle().ToInt32()));
            Assert.Equal(5, System.Runtime.InteropServices.Marshal.GetLastPInvokeError()); // EIO
        }
        using var db = File.OpenHandle(node.Path("app.db"));
        Assert.Equal(0, Native.Fsync(db.DangerousGetHandle().ToInt32()));
    }
}

internal static partial class Native
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);
}
