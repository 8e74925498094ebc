using LiteFs.Ltx;
using LiteFs.TestKit;
using Xunit.Abstractions;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Replicas that were away: stopped and restarted, behind the primary's retention window,
/// diverged from it, or killed while receiving a snapshot. Each must end identical to the
/// primary, by the cheapest correct means (incremental files when the primary still has them,
/// a snapshot otherwise).
/// </summary>
[Collection("cluster")]
public class ReplicationRecoveryTests(ITestOutputHelper output)
{
    private const string Db = "app.db";

    [Fact]
    public void StoppedReplica_Restarted_CatchesUpIncrementally()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var replica = cluster.Replicas[0];
        var path = cluster.Primary.Path(Db);
        Sql.Cli(path, WriteLoad.Schema);
        Insert(path, 5);
        var stoppedAt = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));

        Assert.Equal(0, replica.Stop());
        Insert(path, 20);
        var current = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));
        Assert.True(current >= stoppedAt + 20, $"{current} vs {stoppedAt}");
        replica.Start();
        cluster.AssertIdentical(Db);

        var files = replica.LtxFiles(Db);
        var missing = Enumerable.Range(1, (int)(current - stoppedAt))
            .Select(i => Cluster.LtxName(stoppedAt + (ulong)i, stoppedAt + (ulong)i))
            .Where(name => !files.Contains(name))
            .ToList();
        var snapshots = files.Where(name => LtxFileName.TryParse(name, out var min, out var max) && min.Value == 1 && max.Value > stoppedAt).ToList();
        if (missing.Count > 0 || snapshots.Count > 0)
        {
            cluster.Fail($"{replica.Name} did not catch up incrementally from {stoppedAt:x16} to {current:x16}: " +
                $"missing {string.Join(", ", missing.Take(5))}; snapshots {string.Join(", ", snapshots)}; ltx dir: {string.Join(", ", files)}");
        }
    }

    [Fact]
    public void ReplicaBehindRetention_Restarted_ReceivesSnapshot()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions
        {
            // The snapshot timeout defaults to the retention (1 s): too tight on a loaded machine.
            Primary = new NodeSettings { Retention = "1s", RetentionMonitorInterval = "1s", SnapshotTimeout = "60s" },
        });
        cluster.Start();
        var replica = cluster.Replicas[0];
        var path = cluster.Primary.Path(Db);
        Sql.Cli(path, WriteLoad.Schema);
        Insert(path, 3);
        var stoppedAt = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));

        Assert.Equal(0, replica.Stop());
        Insert(path, 30);
        var next = Cluster.LtxName(stoppedAt + 1, stoppedAt + 1);
        var deadline = DateTime.UtcNow + Cluster.CatchUpTimeout;
        while (cluster.Primary.LtxFiles(Db).Contains(next))
        {
            if (DateTime.UtcNow >= deadline)
            {
                cluster.Fail($"retention did not remove {next} on the primary within {Cluster.CatchUpTimeout.TotalSeconds} s");
            }
            Thread.Sleep(100);
        }
        replica.Start();
        var current = Cluster.TxIdOf(cluster.AssertIdentical(Db));

        var files = replica.LtxFiles(Db);
        if (!files.SequenceEqual([Cluster.LtxName(1, current)]))
        {
            cluster.Fail($"{replica.Name} should hold just the snapshot {Cluster.LtxName(1, current)}; its ltx dir: {string.Join(", ", files)}");
        }
        Assert.Equal("ok\n", Sql.CliRun(replica.Path(Db), "PRAGMA integrity_check;", "-readonly").Stdout);
    }

    /// <summary>
    /// The replica's history diverged while it was away (as after a failover that lost the old
    /// primary's last transaction): it holds a valid TXID the primary also has, with other
    /// contents. <paramref name="primaryTransactions"/> = 1 gives the same TXID with another
    /// checksum; 3 gives a replica behind whose next file does not fit its checksum.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void DivergedReplica_Restarted_ResyncsBySnapshot(int primaryTransactions)
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        cluster.Start();
        var replica = cluster.Replicas[0];
        var proxy = cluster.ProxyOf(replica);
        var path = cluster.Primary.Path(Db);
        Sql.Cli(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);");
        Sql.Cli(path, "INSERT INTO t (v) VALUES ('common');");
        var stoppedAt = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));
        Assert.Equal(0, replica.Stop());

        var forged = ForgeNextTransaction(replica, stoppedAt + 1, "INSERT INTO t (v) VALUES ('diverged');");
        for (var i = 0; i < primaryTransactions; i++)
        {
            Sql.Cli(path, $"INSERT INTO t (v) VALUES ('primary {i}');");
        }
        var primaryPos = cluster.Primary.ReadPos(Db)!;
        Assert.NotEqual(primaryPos, forged.ToString());

        // Cut off from the primary at first, the restarted replica must show the forged position ...
        proxy.Partitioned = true;
        replica.Start();
        cluster.WaitForPos(replica, Db, forged.ToString());
        // ... and once it reaches the primary, give it up for the primary's history.
        proxy.Partitioned = false;
        var current = Cluster.TxIdOf(cluster.AssertIdentical(Db));

        var rows = Sql.CliRun(replica.Path(Db), "SELECT group_concat(v, '|') FROM t;", "-readonly").Stdout;
        Assert.Equal("common|" + string.Join('|', Enumerable.Range(0, primaryTransactions).Select(i => $"primary {i}")) + "\n", rows);
        var files = replica.LtxFiles(Db);
        if (!files.Contains(Cluster.LtxName(1, current)))
        {
            cluster.Fail($"{replica.Name} (diverged at {forged}) should have resynced with a snapshot {Cluster.LtxName(1, current)}; its ltx dir: {string.Join(", ", files)}");
        }
    }

    [Fact]
    public void ReplicaKilledMidSnapshot_Restarted_Converges()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        var replica = cluster.Replicas[0];
        var proxy = cluster.ProxyOf(replica);
        cluster.Primary.Start();
        var path = cluster.Primary.Path(Db);
        // About 60 MB of incompressible pages, so the snapshot is a long transfer.
        Sql.Cli(path, "CREATE TABLE big (id INTEGER PRIMARY KEY, v BLOB NOT NULL);");
        for (var i = 0; i < 3; i++)
        {
            Sql.Cli(path, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO big (v) SELECT randomblob(4000) FROM c;");
        }
        var size = new FileInfo(cluster.Primary.DbFile(Db)).Length;
        Assert.True(size > 50_000_000, $"the primary's database is only {size} bytes");

        replica.Start();
        // Freeze the transfer part-way, so the kill surely lands inside the snapshot.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (proxy.BytesFromTarget < 8_000_000)
        {
            if (DateTime.UtcNow >= deadline || !replica.IsRunning)
            {
                cluster.Fail("the snapshot transfer to the replica did not start");
            }
            Thread.Sleep(5);
        }
        proxy.Stalled = true;
        var sent = proxy.BytesFromTarget;
        replica.Kill();
        proxy.Stalled = false;
        if (sent >= size)
        {
            cluster.Fail($"the snapshot ({sent} bytes sent of a {size}-byte database) completed before the replica was killed");
        }
        output.WriteLine($"killed after {sent} of about {size} bytes; left in ltx/: " +
            string.Join(", ", Directory.GetFiles(replica.LtxDir(Db)).Select(f => $"{Path.GetFileName(f)} ({new FileInfo(f).Length})")));
        var finished = replica.LtxFiles(Db);
        if (finished.Length > 0)
        {
            cluster.Fail($"a replica killed {sent} bytes into the snapshot has finished LTX files: {string.Join(", ", finished)}");
        }

        replica.Start();
        cluster.WaitCaughtUp(Db, TimeSpan.FromSeconds(90));
        var (code, stdout, stderr) = Sql.CliRun(replica.Path(Db), "PRAGMA integrity_check; SELECT count(*) FROM big;", "-readonly");
        if (code != 0 || stdout != "ok\n15000\n")
        {
            cluster.Fail($"read on the restarted replica: exit {code}, stdout '{stdout}', stderr '{stderr}'");
        }
        cluster.AssertIdentical(Db);
        // The partial receive is gone (empty files made ahead for later receives may stay).
        var leftovers = Directory.GetFiles(replica.LtxDir(Db), "*.tmp").Where(f => new FileInfo(f).Length > 0).ToList();
        if (leftovers.Count > 0)
        {
            cluster.Fail($"{replica.Name} kept partial files: {string.Join(", ", leftovers.Select(f => $"{Path.GetFileName(f)} ({new FileInfo(f).Length} bytes)"))}");
        }
    }

    /// <summary><paramref name="count"/> transactions of <see cref="WriteLoad.RowsPerTransaction"/> rows each, one sqlite3 run.</summary>
    private static void Insert(string path, int count)
    {
        var script = string.Concat(Enumerable.Range(0, count).Select(i =>
            $"BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {WriteLoad.RowsPerTransaction}) INSERT INTO t (txno, v) SELECT {i}, randomblob(500) FROM c; COMMIT;\n"));
        Sql.Cli(path, script);
    }

    /// <summary>
    /// While the replica is stopped, gives it a different transaction <paramref name="txid"/>:
    /// <paramref name="sql"/> applied to a copy of its database, stored as a snapshot LTX file
    /// (as if it had received that history from another primary), replacing its LTX files and
    /// its database file. Returns the forged position.
    /// </summary>
    private static Pos ForgeNextTransaction(ClusterNode replica, ulong txid, string sql)
    {
        using var temp = new TempDir();
        var copy = temp.Combine("copy.db");
        File.Copy(replica.DbFile(Db), copy);
        Sql.Cli(copy, "PRAGMA journal_mode = DELETE; " + sql);
        var snapshot = temp.Combine("snapshot.ltx");
        LtxTrailer trailer;
        using (var db = File.OpenRead(copy))
        using (var output = File.Create(snapshot))
        {
            trailer = LtxSnapshot.Write(db, output, new TxId(txid), new LtxSnapshotOptions { Compress = true, NodeId = 0x1234_5678_9abc_def0, Name = Db });
        }
        foreach (var file in Directory.GetFiles(replica.LtxDir(Db)))
        {
            File.Delete(file);
        }
        File.Copy(snapshot, Path.Combine(replica.LtxDir(Db), Cluster.LtxName(1, txid)));
        File.Copy(copy, replica.DbFile(Db), overwrite: true);
        return new Pos(new TxId(txid), trailer.PostApplyChecksum);
    }
}
