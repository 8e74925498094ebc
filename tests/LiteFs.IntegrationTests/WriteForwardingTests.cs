using LiteFs.Core;
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
        // The node's log says why (its output is read from a pipe: allow it a moment to arrive).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!cluster.Replicas[1].Describe(400).Contains("context deadline exceeded", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }
        Assert.Contains("cannot take the HALT lock: acquire halt lock: context deadline exceeded", cluster.Replicas[1].Describe(400), StringComparison.Ordinal);
    }

    [Fact]
    public void LitefsRun_WithHaltLockOn_MigrationOnAReplicaReachesEveryNode()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "PRAGMA journal_mode=wal; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);");
        cluster.WaitCaughtUp("app.db");
        var replica = cluster.Replicas[1];
        var db = replica.Path("app.db");

        var (code, stdout, stderr) = LiteFsCommand.Run("run", "-url", replica.Url, "-with-halt-lock-on", db, "--",
            "sqlite3", "-bail", "-cmd", ".timeout 10000", db,
            "ALTER TABLE t ADD COLUMN w INTEGER NOT NULL DEFAULT 7; CREATE INDEX t_w ON t(w); INSERT INTO t(v) VALUES ('migrated');");

        Assert.True(code == 0, $"litefs run exited {code}: {stdout}{stderr}\n{replica.Describe(30)}");
        Assert.False(HaltLockFile.IsReportedHeld(db + "-lock"));
        cluster.WaitCaughtUp("app.db");
        foreach (var node in new[] { cluster.Primary }.Concat(cluster.Replicas))
        {
            Assert.Equal("migrated|7\n", Sql.Cli(node.Path("app.db"), "SELECT v, w FROM t;"));
            Assert.Equal("ok\n", Sql.Cli(node.Path("app.db"), "PRAGMA integrity_check;"));
        }
        cluster.AssertIdentical("app.db");
    }

    [Fact]
    public void LitefsRun_Errors_AsTheSpecSays()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");
        var replica = cluster.Replicas[0];

        var missing = LiteFsCommand.Run("run", "-with-halt-lock-on", replica.Path("nope.db"), "--", "true");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal($"ERROR: database does not exist: {replica.Path("nope.db")}\n", missing.Stderr);

        var notMount = Path.Combine(replica.Root, "plain.db");
        File.WriteAllBytes(notMount, []);
        var plain = LiteFsCommand.Run("run", "-with-halt-lock-on", notMount, "--", "true");
        Assert.Equal(1, plain.ExitCode);
        Assert.Equal($"ERROR: lock file not available, are you sure \"{replica.Root}\" is a LiteFS mount?\n", plain.Stderr);

        var both = LiteFsCommand.Run("run", "-promote", "-with-halt-lock-on", replica.Path("app.db"), "--", "true");
        Assert.Equal(1, both.ExitCode);
        Assert.Equal("ERROR: cannot specify both -promote & -with-halt-lock-on\n", both.Stderr);

        var failing = LiteFsCommand.Run("run", "-with-halt-lock-on", replica.Path("app.db"), "--", "sh", "-c", "exit 3");
        Assert.Equal(1, failing.ExitCode);
        Assert.Equal("ERROR: exit status 3\n", failing.Stderr);
        Assert.False(HaltLockFile.IsReportedHeld(replica.Path("app.db-lock")));

        var noCommand = LiteFsCommand.Run("run", "-url", replica.Url);
        Assert.Equal(2, noCommand.ExitCode);

        var skipped = LiteFsCommand.Run("run", "-url", replica.Url, "-if-candidate", "--", "sh", "-c", "exit 3");
        Assert.Equal(0, skipped.ExitCode);
        Assert.Equal("node is not a candidate, skipping execution\n", skipped.Stderr);
    }

    [Fact]
    public async Task MicrosoftDataSqlite_UnderHaltLockOnReplica_ReadersThereNeverSeeHalfATransaction()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "PRAGMA journal_mode=wal; CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER); INSERT INTO a VALUES (0); INSERT INTO b VALUES (0);");
        cluster.WaitCaughtUp("app.db");
        var replica = cluster.Replicas[0];
        using var stop = new CancellationTokenSource();
        var torn = 0;
        var reads = 0;
        var reader = Task.Run(() =>
        {
            using var connection = Sql.OpenReadOnly(replica.Path("app.db"));
            while (!stop.IsCancellationRequested)
            {
                using var tx = connection.BeginTransaction();
                var a = Convert.ToInt64(Sql.Scalar(connection, "SELECT n FROM a"), System.Globalization.CultureInfo.InvariantCulture);
                var b = Convert.ToInt64(Sql.Scalar(connection, "SELECT n FROM b"), System.Globalization.CultureInfo.InvariantCulture);
                if (a != b)
                {
                    Interlocked.Increment(ref torn);
                }
                Interlocked.Increment(ref reads);
            }
        });

        using (HaltLockFile.Acquire(replica.Path("app.db-lock")))
        using (var writer = Sql.Open(replica.Path("app.db")))
        {
            for (var i = 1; i <= 50; i++)
            {
                using var tx = writer.BeginTransaction();
                Sql.Exec(writer, $"UPDATE a SET n = {i}");
                Sql.Exec(writer, $"UPDATE b SET n = {i}");
                tx.Commit();
            }
        }
        stop.Cancel();
        await reader;

        Assert.Equal(0, torn);
        Assert.True(reads > 0);
        cluster.WaitCaughtUp("app.db");
        Assert.Equal("50|50\n", Sql.Cli(cluster.Primary.Path("app.db"), "SELECT a.n, b.n FROM a, b;"));
        cluster.AssertIdentical("app.db");
    }

    /// <summary>
    /// The lock's holder outlives the primary's TTL: the primary releases it and commits again,
    /// and its files reach the replica that still records the lock. Upstream's replica stalls for
    /// good there (its stream waits for a lock it holds itself); here the stale record is dropped
    /// and the file applied, and the holder's next commit is refused by the primary.
    /// </summary>
    [Fact]
    public void HaltLockExpiresOnThePrimary_FilesStreamedAfterwardApplyWithoutDeadlock()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var primary = cluster.Primary;
        var replica = cluster.Replicas[0];
        Sql.Cli(primary.Path("app.db"), "CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");

        using (HaltLockFile.Acquire(replica.Path("app.db-lock")))
        {
            Sql.Cli(replica.Path("app.db"), "INSERT INTO t VALUES ('forwarded');");
            // The TTL (30 s) and the primary's expiry check (every 5 s).
            var deadline = DateTime.UtcNow + HaltLock.Ttl + TimeSpan.FromSeconds(20);
            while (!primary.Describe(400).Contains("expired without a release", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the primary never expired the HALT lock:\n" + primary.Describe(30));
                Thread.Sleep(200);
            }
            Sql.Cli(primary.Path("app.db"), "INSERT INTO t VALUES ('primary after expiry');");
            cluster.WaitCaughtUp("app.db", TimeSpan.FromSeconds(20));
            // The replica's own readers go on as usual.
            Assert.Equal("forwarded\nprimary after expiry\n", Sql.Cli(replica.Path("app.db"), "SELECT v FROM t ORDER BY rowid;"));
            Assert.False(HaltLockFile.IsReportedHeld(replica.Path("app.db-lock")));
            // Writing under the lost lock is refused: nothing half-recorded anywhere.
            Assert.NotEqual(0, Sql.CliRun(replica.Path("app.db"), "INSERT INTO t VALUES ('too late');").ExitCode);
        }
        Sql.Cli(primary.Path("app.db"), "INSERT INTO t VALUES ('primary again');");
        cluster.WaitCaughtUp("app.db");
        Assert.Equal("forwarded\nprimary after expiry\nprimary again\n", Sql.Cli(replica.Path("app.db"), "SELECT v FROM t ORDER BY rowid;"));
        Assert.Equal("ok\n", Sql.Cli(replica.Path("app.db"), "PRAGMA integrity_check;"));
        cluster.AssertIdentical("app.db");
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("wal")]
    public void HaltHolderKilledMidTransaction_NothingHalfAppliedAndTheLockIsFree(string mode)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), $"PRAGMA journal_mode={mode}; CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");
        var replica = cluster.Replicas[0];
        var db = replica.Path("app.db");

        // A migration that dies halfway: its transaction has written pages (a big one spills
        // them to the database file or the WAL) but never commits.
        using (var run = LiteFsCommand.Start("run", "-url", replica.Url, "-with-halt-lock-on", db, "--", "sqlite3", "-bail", "-cmd", ".timeout 10000", db))
        {
            run.WriteStdin("PRAGMA cache_size = 10; BEGIN; INSERT INTO t VALUES ('committed first'); COMMIT;\n");
            run.WriteStdin("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO t SELECT printf('%0500d', i) FROM n;\n");
            // The primary's own readers wait while the lock is held: its position says it.
            var target = Cluster.TxIdOf(cluster.Primary.ReadPos("app.db")!) + 1;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Cluster.TxIdOf(cluster.Primary.ReadPos("app.db")!) < target)
            {
                Assert.True(DateTime.UtcNow < deadline, "the first transaction never reached the primary");
                Thread.Sleep(50);
            }
            Thread.Sleep(500);
            var children = ChildPids(run.Pid);
            Assert.NotEmpty(children);
            run.Signal(9);
            foreach (var child in children)
            {
                KillPid(child);
            }
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(10)));
        }
        // Freed when the killed processes' files closed: another writer takes it at once.
        var deadline2 = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (HaltLockFile.IsReportedHeld(db + "-lock"))
        {
            Assert.True(DateTime.UtcNow < deadline2, "the HALT lock stayed recorded after its holder died");
            Thread.Sleep(100);
        }
        using (HaltLockFile.Acquire(db + "-lock"))
        {
            Sql.Cli(db, "INSERT INTO t VALUES ('after the crash');");
        }
        cluster.WaitCaughtUp("app.db");
        foreach (var node in new[] { cluster.Primary }.Concat(cluster.Replicas))
        {
            Assert.Equal("committed first\nafter the crash\n", Sql.Cli(node.Path("app.db"), "SELECT v FROM t ORDER BY rowid;"));
            Assert.Equal("ok\n", Sql.Cli(node.Path("app.db"), "PRAGMA integrity_check;"));
        }
        cluster.AssertIdentical("app.db");
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("wal")]
    public void PrimaryKilledWhileAReplicaHoldsTheLock_CommitRefusedThenReplicationGoesOn(string mode)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var primary = cluster.Primary;
        var replica = cluster.Replicas[0];
        Sql.Cli(primary.Path("app.db"), $"PRAGMA journal_mode={mode}; CREATE TABLE t (v TEXT);");
        cluster.WaitCaughtUp("app.db");
        var db = replica.Path("app.db");

        using (HaltLockFile.Acquire(db + "-lock"))
        {
            Sql.Cli(db, "INSERT INTO t VALUES ('forwarded');");
            primary.Kill();
            // The primary cannot take the commit: SQLite on the replica gets an error, and the
            // transaction is not recorded anywhere.
            var refused = Sql.CliRun(db, "INSERT INTO t VALUES ('lost with the primary');");
            Assert.True(refused.ExitCode != 0, $"the commit was not refused (exit {refused.ExitCode}, stdout {refused.Stdout}, stderr {refused.Stderr}):\n" + replica.Describe(5));
            Assert.Contains("disk I/O error", refused.Stderr, StringComparison.Ordinal);
            // The replica goes on (a refused forward is not fatal, in WAL mode either).
            Assert.True(replica.IsRunning, replica.Describe(30));
            Assert.Equal("forwarded\n", Sql.Cli(db, "SELECT v FROM t ORDER BY rowid;"));
        }
        primary.Start();
        cluster.WaitCaughtUp("app.db", TimeSpan.FromSeconds(60));
        // Until the restarted primary serves, taking the lock fails (EIO), as an application retrying it would see.
        HaltLockFile? halt = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (halt is null)
        {
            try
            {
                halt = HaltLockFile.Acquire(db + "-lock");
            }
            catch (IOException ex) when (DateTime.UtcNow < deadline)
            {
                Assert.Contains("Input/output error", ex.Message, StringComparison.Ordinal);
                Thread.Sleep(200);
            }
        }
        using (halt)
        {
            Sql.Cli(db, "INSERT INTO t VALUES ('after the restart');");
        }
        cluster.WaitCaughtUp("app.db");
        foreach (var node in new[] { primary, replica })
        {
            Assert.Equal("forwarded\nafter the restart\n", Sql.Cli(node.Path("app.db"), "SELECT v FROM t ORDER BY rowid;"));
            Assert.Equal("ok\n", Sql.Cli(node.Path("app.db"), "PRAGMA integrity_check;"));
        }
        cluster.AssertIdentical("app.db");
    }

    /// <summary>The children of a process (from /proc), to stop what <c>litefs run</c> started, by PID.</summary>
    private static List<int> ChildPids(int pid)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var candidate))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == pid)
                    {
                        children.Add(candidate);
                    }
                }
                catch (IOException)
                {
                }
            }
        }
        return children;
    }

    private static void KillPid(int pid)
    {
        try
        {
            System.Diagnostics.Process.GetProcessById(pid).Kill();
        }
        catch (ArgumentException)
        {
        }
    }
}
