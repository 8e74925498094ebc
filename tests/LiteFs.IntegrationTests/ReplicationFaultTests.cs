using System.Globalization;
using LiteFs.Ltx;
using LiteFs.TestKit;
using Xunit.Abstractions;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Network and process faults during a write load: connections cut, partitioned, stalled or
/// silently dead between replica and primary (through a <see cref="FaultProxy"/>), and the
/// primary killed. The replicas must converge to the primary's exact bytes, and a reader on a
/// replica must never see a half-applied transaction meanwhile.
/// </summary>
[Collection("cluster")]
public class ReplicationFaultTests(ITestOutputHelper output)
{
    private const string Db = "app.db";

    [Fact]
    public void ConnectionCut_DuringWrites_ReplicaReconnectsAndConverges()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        var (replica, proxy) = StartWithSchema(cluster, "WAL");
        using var reader = new AtomicityReader(replica.Path(Db));
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "WAL");

        for (var cut = 1; cut <= 3; cut++)
        {
            writer.WaitForCommitted(cut * 25, cluster);
            var connections = proxy.ForwardedConnections;
            proxy.Cut();
            WaitForReconnect(cluster, proxy, connections, $"cut {cut}");
        }
        writer.WaitForCommitted(100, cluster);
        writer.Stop();

        cluster.AssertIdentical(Db);
        reader.AssertClean(cluster, replica.Name);
        AssertGroups(cluster, replica, writer);
    }

    [Fact]
    public void Partition_ForSeconds_ReplicaLagsThenConvergesWhenHealed()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        var (replica, proxy) = StartWithSchema(cluster, "DELETE");
        using var reader = new AtomicityReader(replica.Path(Db));
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "DELETE");
        writer.WaitForCommitted(20, cluster);

        proxy.Partitioned = true;
        var refused = proxy.RefusedConnections;
        var committed = writer.Committed;
        // The partition lasts a few seconds of writes on the primary (its length is the fault itself).
        Thread.Sleep(TimeSpan.FromSeconds(3));
        writer.WaitForCommitted(committed + 10, cluster);
        WaitUntil(cluster, () => proxy.RefusedConnections > refused, "the replica to try to reconnect through the partition");
        var lag = ReadLagMs(replica);
        if (lag < 2000)
        {
            cluster.Fail($"{replica.Name}'s .lag is {lag} ms after 3 s cut off from the primary");
        }
        Assert.NotEqual(cluster.Primary.ReadPos(Db), replica.ReadPos(Db));

        proxy.Partitioned = false;
        writer.WaitForCommitted(writer.Committed + 20, cluster);
        writer.Stop();

        cluster.AssertIdentical(Db);
        reader.AssertClean(cluster, replica.Name);
        AssertGroups(cluster, replica, writer);
        WaitUntil(cluster, () => ReadLagMs(replica) < 2000, "the replica's .lag to drop once healed");
    }

    /// <summary>
    /// A replica cut off for longer than the primary's retention gets a snapshot when it comes
    /// back, and the snapshot replaces its database file in one step under open connections: the
    /// reader that kept its connection through it never sees a half-applied state or an error,
    /// and a connection opened before the snapshot reads the new database on its next query.
    /// </summary>
    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public void SnapshotOverOpenDatabase_ReadersKeepConnections_SeeOldOrNewWhole(string journalMode)
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions
        {
            Proxies = true,
            // The snapshot timeout defaults to the retention (1 s): too tight on a loaded machine.
            Primary = new NodeSettings { Retention = "1s", RetentionMonitorInterval = "1s", SnapshotTimeout = "60s" },
        });
        var (replica, proxy) = StartWithSchema(cluster, journalMode);
        using var reader = new AtomicityReader(replica.Path(Db));
        using var writer = new WriteLoad(cluster.Primary.Path(Db), journalMode);
        writer.WaitForCommitted(20, cluster);
        cluster.WaitCaughtUp(Db);
        using var held = Sql.OpenReadOnly(replica.Path(Db));
        Sql.Exec(held, "PRAGMA busy_timeout = 30000");
        Assert.True(Convert.ToInt64(Sql.Scalar(held, "SELECT count(*) FROM t"), CultureInfo.InvariantCulture) > 0);

        proxy.Partitioned = true;
        // Whatever was in flight at the cut has landed once the position stops moving.
        var cutAt = 0ul;
        WaitUntil(cluster, () =>
        {
            var seen = Cluster.TxIdOf(replica.ReadPos(Db)!);
            Thread.Sleep(300);
            cutAt = Cluster.TxIdOf(replica.ReadPos(Db)!);
            return seen == cutAt;
        }, "the replica's position to settle after the cut");
        // Until no file the replica could continue from is left on the primary.
        WaitUntil(cluster, () => cluster.Primary.LtxFiles(Db).All(name => LtxFileName.TryParse(name, out var min, out _) && min.Value > cutAt + 1),
            $"retention to remove every file after {cutAt:x16} but the newest on the primary");
        proxy.Partitioned = false;
        writer.WaitForCommitted(writer.Committed + 20, cluster);
        writer.Stop();

        var current = Cluster.TxIdOf(cluster.AssertIdentical(Db));
        var snapshots = replica.LtxFiles(Db).Where(name => LtxFileName.TryParse(name, out var min, out var max) && min.Value == 1 && max.Value > cutAt);
        if (!snapshots.Any())
        {
            cluster.Fail($"{replica.Name} (cut off at {cutAt:x16}, now at {current:x16}) should have received a snapshot; its ltx dir: {string.Join(", ", replica.LtxFiles(Db))}");
        }
        reader.AssertClean(cluster, replica.Name);
        AssertGroups(cluster, replica, writer);
        var expected = Sql.CliRun(cluster.Primary.Path(Db), "SELECT count(*), sum(txno) FROM t;").Stdout.Trim();
        using (var command = held.CreateCommand())
        {
            command.CommandText = "SELECT count(*) || '|' || sum(txno) FROM t";
            Assert.Equal(expected, command.ExecuteScalar() as string);
        }
        Assert.Equal("ok", Sql.Scalar(held, "PRAGMA integrity_check"));
    }

    [Fact]
    public void Stall_LongerThanStallTimeout_ReplicaConvergesAfterUnstall()
    {
        // A short reconnect delay: the replica notices the silence 10 to 11 s into the stall
        // (its watchdog looks every second), and the new attempt must fall inside the stall.
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true, Replica = new NodeSettings { ReconnectDelay = "100ms" } });
        var (replica, proxy) = StartWithSchema(cluster, "WAL");
        using var reader = new AtomicityReader(replica.Path(Db));
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "WAL");
        writer.WaitForCommitted(20, cluster);

        proxy.Stalled = true;
        var connections = proxy.ForwardedConnections;
        // Longer than the 10 s a replica waits for a silent stream before dropping it.
        Thread.Sleep(TimeSpan.FromSeconds(13));
        var duringStall = proxy.ForwardedConnections - connections;
        proxy.Stalled = false;

        writer.WaitForCommitted(writer.Committed + 20, cluster);
        writer.Stop();
        cluster.AssertIdentical(Db);
        reader.AssertClean(cluster, replica.Name);
        AssertGroups(cluster, replica, writer);
        // The silent stream was dropped and the next attempt went over a connection of its own.
        output.WriteLine($"connections opened during the 13 s stall: {duringStall}; {proxy}");
        if (duringStall < 1)
        {
            cluster.Fail($"no new connection was opened during a 13 s stall (the replica should drop a stream silent for 10 s); {proxy}");
        }
    }

    [Fact]
    public void DeadConnection_Blackholed_ReplicaReconnectsWithinStallTimeoutAndConverges()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        var (replica, proxy) = StartWithSchema(cluster, "TRUNCATE");
        using var reader = new AtomicityReader(replica.Path(Db));
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "TRUNCATE");
        writer.WaitForCommitted(20, cluster);

        var connections = proxy.ForwardedConnections;
        // The primary's side vanished without a FIN or RST: only the replica's silence detection can help.
        proxy.Blackhole();
        var blackholed = DateTime.UtcNow;
        WaitForReconnect(cluster, proxy, connections, "the blackholed connection", TimeSpan.FromSeconds(60));
        var reconnectedAfter = DateTime.UtcNow - blackholed;
        output.WriteLine($"reconnected {reconnectedAfter.TotalSeconds:F1} s after the blackhole");
        writer.WaitForCommitted(writer.Committed + 20, cluster);
        writer.Stop();

        cluster.AssertIdentical(Db);
        reader.AssertClean(cluster, replica.Name);
        AssertGroups(cluster, replica, writer);
        // 10 s of silence ends the stream and the next attempt follows the reconnect delay (1 s);
        // the rest is slack for a loaded machine. A retry over the same dead connection only
        // recovers once HTTP/2 keep-alive pings give up on it, which takes longer.
        if (reconnectedAfter > TimeSpan.FromSeconds(20))
        {
            cluster.Fail($"{replica.Name} needed {reconnectedAfter.TotalSeconds:F1} s to reach the primary over a new connection " +
                "after its connection went dead (10 s stall timeout + 1 s reconnect delay expected, 20 s allowed)");
        }
    }

    /// <summary>
    /// A file in transit that stops arriving (a slow or stalled link, a big transaction or a
    /// snapshot) must not keep the replica's readers out: they read the last applied state.
    /// </summary>
    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public async Task StreamStalledMidFile_ReplicaReadsStillAnswer(string journalMode)
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Proxies = true });
        var (replica, proxy) = StartWithSchema(cluster, journalMode);
        Sql.Cli(cluster.Primary.Path(Db), "INSERT INTO t (txno, v) VALUES (1, 'before');");
        cluster.WaitCaughtUp(Db);
        var before = proxy.BytesFromTarget;

        // About 20 MB of incompressible rows in one transaction: one long LTX frame.
        var big = Task.Run(() => Sql.Cli(cluster.Primary.Path(Db),
            $"PRAGMA journal_mode = {journalMode}; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t (txno, v) SELECT 2, randomblob(4000) FROM c;"));
        WaitUntil(cluster, () => proxy.BytesFromTarget > before + 2_000_000, "the big transaction to be on its way to the replica", TimeSpan.FromSeconds(60));
        proxy.Stalled = true;
        Task<long> read;
        bool answered;
        var stalledAt = DateTime.UtcNow;
        try
        {
            read = Task.Run(() =>
            {
                using var connection = Sql.OpenReadOnly(replica.Path(Db), timeoutSeconds: 30);
                Sql.Exec(connection, "PRAGMA busy_timeout = 30000");
                return Convert.ToInt64(Sql.Scalar(connection, "SELECT count(*) FROM t"), CultureInfo.InvariantCulture);
            });
            answered = await Finishes(read, TimeSpan.FromSeconds(3));
        }
        finally
        {
            proxy.Stalled = false;
        }
        var waited = DateTime.UtcNow - stalledAt;
        await big.WaitAsync(TimeSpan.FromMinutes(2));
        cluster.AssertIdentical(Db);
        if (!answered)
        {
            var outcome = !await Finishes(read, TimeSpan.FromSeconds(60)) ? "it never answered"
                : read.IsCompletedSuccessfully ? $"it answered {await read} once unstalled"
                : $"it failed once unstalled: {read.Exception?.InnerException?.Message}";
            cluster.Fail($"a read on {replica.Name} got no answer within {waited.TotalSeconds:F1} s while a file was stalled in transit ({outcome}); " +
                "the replica seems to hold its database lock while it receives");
        }
        if (!read.IsCompletedSuccessfully)
        {
            cluster.Fail($"a read on {replica.Name} failed while a file was stalled in transit: {read.Exception?.InnerException?.Message}");
        }
        Assert.Equal(1, await read);
    }

    /// <summary>True when <paramref name="task"/> ends (in any state) within <paramref name="timeout"/>.</summary>
    private static async Task<bool> Finishes(Task task, TimeSpan timeout)
    {
        var first = await Task.WhenAny(task, Task.Delay(timeout));
        return first == task;
    }

    [Theory]
    [InlineData("WAL")]
    [InlineData("DELETE")]
    public void PrimaryKilled_DuringWrites_Restarted_ReplicasConverge(string journalMode)
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = {journalMode}; {WriteLoad.Schema}");
        cluster.WaitCaughtUp(Db);
        var readers = cluster.Replicas.Select(r => new AtomicityReader(r.Path(Db))).ToList();
        try
        {
            var writer = new WriteLoad(cluster.Primary.Path(Db), journalMode);
            writer.WaitForCommitted(40, cluster);
            cluster.Primary.Kill();
            if (!writer.WaitStopped(TimeSpan.FromSeconds(60)))
            {
                cluster.Fail("the writer on the killed primary did not give up within 60 s");
            }
            var acknowledged = writer.Present;

            cluster.Primary.Start();
            using var after = new WriteLoad(cluster.Primary.Path(Db), journalMode, firstTxNo: writer.NextTxNo + 1000, seed: 2);
            after.WaitForCommitted(30, cluster);
            after.Stop();

            cluster.AssertIdentical(Db);
            for (var i = 0; i < readers.Count; i++)
            {
                readers[i].AssertClean(cluster, cluster.Replicas[i].Name);
            }
            var present = Groups(cluster.Primary, readOnly: false);
            var lost = acknowledged.Where(g => !present.Contains(g)).ToList();
            if (lost.Count > 0)
            {
                cluster.Fail($"{lost.Count} transactions acknowledged before the kill are missing after the restart, e.g. txno {string.Join(", ", lost.Take(5))}");
            }
            foreach (var replica in cluster.Replicas)
            {
                Assert.Equal(present.Order(), Groups(replica, readOnly: true).Order());
            }
        }
        finally
        {
            foreach (var reader in readers)
            {
                reader.Dispose();
            }
        }
    }

    [Fact]
    public void ReplicaKilled_DuringWrites_Restarted_Converges()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var replica = cluster.Replicas[0];
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = WAL; {WriteLoad.Schema}");
        cluster.WaitCaughtUp(Db);
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "WAL", pauseMs: 0);
        for (var kill = 1; kill <= 3; kill++)
        {
            writer.WaitForCommitted(kill * 40, cluster);
            // Most of the replica's time goes to receiving and applying files: the kill lands in one.
            replica.Kill();
            replica.Start();
        }
        using (var reader = new AtomicityReader(replica.Path(Db)))
        {
            writer.WaitForCommitted(writer.Committed + 20, cluster);
            writer.Stop();
            cluster.AssertIdentical(Db);
            reader.AssertClean(cluster, replica.Name);
        }
        AssertGroups(cluster, replica, writer);
        using var check = Sql.OpenReadOnly(replica.Path(Db));
        Assert.Equal("ok", Sql.Scalar(check, "PRAGMA integrity_check"));
    }

    /// <summary>Starts the cluster, creates the load's table on the primary and waits until the replica has it.</summary>
    private static (ClusterNode Replica, FaultProxy Proxy) StartWithSchema(Cluster cluster, string journalMode)
    {
        cluster.Start();
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = {journalMode}; {WriteLoad.Schema}");
        cluster.WaitCaughtUp(Db);
        var replica = cluster.Replicas[0];
        var proxy = cluster.ProxyOf(replica);
        if (!proxy.WaitForOpenConnections(1, Cluster.CatchUpTimeout))
        {
            cluster.Fail($"{replica.Name} has no open connection through its proxy");
        }
        return (replica, proxy);
    }

    /// <summary>Polls until the proxy relayed a connection made after <paramref name="before"/> and it is still open.</summary>
    private static void WaitForReconnect(Cluster cluster, FaultProxy proxy, long before, string after, TimeSpan? timeout = null) =>
        WaitUntil(cluster, () => proxy.ForwardedConnections > before && proxy.OpenConnections > 0, $"the replica to reconnect after {after}", timeout);

    private static void WaitUntil(Cluster cluster, Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Cluster.CatchUpTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                cluster.Fail($"timed out after {limit.TotalSeconds} s waiting for {what}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>The replica shows exactly the groups the writer's acknowledged transactions left.</summary>
    private static void AssertGroups(Cluster cluster, ClusterNode replica, WriteLoad writer)
    {
        var expected = writer.Present.Order().ToList();
        var actual = Groups(replica, readOnly: true).Order().ToList();
        if (!expected.SequenceEqual(actual))
        {
            cluster.Fail($"{replica.Name} has {actual.Count} transaction groups, the writer committed {expected.Count}: " +
                $"missing {string.Join(",", expected.Except(actual).Take(5))}, unexpected {string.Join(",", actual.Except(expected).Take(5))}");
        }
    }

    private static HashSet<long> Groups(ClusterNode node, bool readOnly)
    {
        using var connection = readOnly ? Sql.OpenReadOnly(node.Path(Db)) : Sql.Open(node.Path(Db));
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT txno FROM t";
        using var reader = command.ExecuteReader();
        var groups = new HashSet<long>();
        while (reader.Read())
        {
            groups.Add(reader.GetInt64(0));
        }
        return groups;
    }

    /// <summary>The replica's <c>.lag</c> (<c>%+010d</c> milliseconds).</summary>
    private static long ReadLagMs(ClusterNode node) =>
        long.Parse(File.ReadAllText(node.Path(".lag")).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
}
