using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Write forwarding through the HALT lock, with real nodes and the sqlite3 tool: a replica takes
/// the lock on its <c>-lock</c> file, writes locally, and each transaction reaches the primary
/// (before SQLite's commit returns) and from there every replica.
/// </summary>
[Collection("cluster")]
public class WriteForwardingTests
{
    [Theory]
    [InlineData("delete")]
    [InlineData("persist")]
    [InlineData("truncate")]
    [InlineData("wal")]
    public void Replica_WritesUnderHaltLock_LandOnThePrimaryAndEveryReplica(string mode)
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var primary = cluster.Primary;
        var writer = cluster.Replicas[0];
        var setup = Sql.CliRun(primary.Path("app.db"), $"PRAGMA journal_mode={mode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t(v) VALUES ('primary');");
        Assert.True(setup.ExitCode == 0, setup.Stderr);
        var before = cluster.WaitCaughtUp("app.db");

        // Without the lock the replica refuses writes.
        var refused = Sql.CliRun(writer.Path("app.db"), "INSERT INTO t(v) VALUES ('refused');");
        Assert.NotEqual(0, refused.ExitCode);

        using (var halt = HaltLockFile.Acquire(writer.Path("app.db-lock")))
        {
            Assert.True(HaltLockFile.IsReportedHeld(writer.Path("app.db-lock")));
            var first = Sql.CliRun(writer.Path("app.db"), "INSERT INTO t(v) VALUES ('forwarded 1');");
            Assert.True(first.ExitCode == 0, first.Stderr + "\n--- writer:\n" + writer.Describe(60) + "\n--- primary:\n" + primary.Describe(30));
            var second = Sql.CliRun(writer.Path("app.db"), "BEGIN; INSERT INTO t(v) VALUES ('forwarded 2'); INSERT INTO t(v) SELECT v || ' copy' FROM t; COMMIT;");
            Assert.True(second.ExitCode == 0, second.Stderr + "\n--- writer:\n" + writer.Describe(60) + "\n--- primary:\n" + primary.Describe(30));

            // The primary already has both: SQLite's commit returned after the primary applied them.
            Assert.Equal(Cluster.TxIdOf(before) + 2, Cluster.TxIdOf(primary.ReadPos("app.db")!));
            Assert.Equal(writer.ReadPos("app.db"), primary.ReadPos("app.db"));

            // Local writers on the primary wait while a replica holds the lock.
            var blocked = Sql.CliRun(primary.Path("app.db"), "INSERT INTO t(v) VALUES ('blocked');", "-cmd", ".timeout 300");
            Assert.NotEqual(0, blocked.ExitCode);
            // "database is locked", or in WAL mode "locking protocol" (SQLite gave up retrying the read lock).
            Assert.Matches("locked|locking protocol", blocked.Stderr);
        }

        Assert.False(HaltLockFile.IsReportedHeld(writer.Path("app.db-lock")));
        // Released: the primary writes again, the replica refuses again.
        var again = Sql.CliRun(primary.Path("app.db"), "INSERT INTO t(v) VALUES ('primary again');");
        Assert.True(again.ExitCode == 0, again.Stderr + "\n--- primary:\n" + primary.Describe(40));
        Assert.NotEqual(0, Sql.CliRun(writer.Path("app.db"), "INSERT INTO t(v) VALUES ('refused');").ExitCode);

        cluster.WaitCaughtUp("app.db");
        const string expected = "primary\nforwarded 1\nforwarded 2\nprimary copy\nforwarded 1 copy\nforwarded 2 copy\nprimary again\n";
        foreach (var node in new[] { primary }.Concat(cluster.Replicas))
        {
            Assert.Equal(expected, Sql.Cli(node.Path("app.db"), "SELECT v FROM t ORDER BY id;"));
            Assert.Equal("ok\n", Sql.Cli(node.Path("app.db"), "PRAGMA integrity_check;"));
        }
        cluster.AssertIdentical("app.db");
    }

    [Fact]
    public async Task SecondNode_TriesTheLockWhileHeld_WaitsThenGetsItOnceReleased()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");
        var first = cluster.Replicas[0];
        var second = cluster.Replicas[1];

        var halt = HaltLockFile.Acquire(first.Path("app.db-lock"));
        var waiting = Task.Run(() => HaltLockFile.Acquire(second.Path("app.db-lock")));
        await Task.Delay(1000);
        Assert.False(waiting.IsCompleted, "the second node got the lock while the first held it");
        Sql.Cli(first.Path("app.db"), "INSERT INTO t VALUES ('first');");
        halt.Dispose();

        using (var secondHalt = await waiting.WaitAsync(TimeSpan.FromSeconds(30)))
        {
            // The second node caught up to the first's transaction before its lock returned.
            Sql.Cli(second.Path("app.db"), "INSERT INTO t VALUES ('second');");
        }
        cluster.WaitCaughtUp("app.db");
        Assert.Equal("first\nsecond\n", Sql.Cli(cluster.Primary.Path("app.db"), "SELECT v FROM t ORDER BY rowid;"));
        cluster.AssertIdentical("app.db");
    }

    [Fact]
    public void SecondNode_LockHeldTooLong_TimesOutWithEio()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");

        using var halt = HaltLockFile.Acquire(cluster.Replicas[0].Path("app.db-lock"));
        var started = DateTime.UtcNow;
        var errno = HaltLockFile.TryAcquire(cluster.Replicas[1].Path("app.db-lock"), wait: true);

        Assert.Equal(5, errno); // EIO: "acquire halt lock: context deadline exceeded"
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(30));
        Assert.Contains("context deadline exceeded", cluster.Replicas[1].Describe(400), StringComparison.Ordinal);
    }
}
