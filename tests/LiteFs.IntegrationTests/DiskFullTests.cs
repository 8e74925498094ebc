using System.Globalization;
using LiteFs.TestKit;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A node whose data directory fills up (a small tmpfs of its own; the database, its journal,
/// WAL and SHM files live there too, beside the LTX files). The node keeps running: SQLite gets
/// SQLITE_FULL (or an I/O error where its protocol forces one) for what cannot be recorded, a
/// committed WAL transaction waits in the WAL, <c>/metrics</c> and the log say why, and once space
/// is freed writes resume by themselves with every acknowledged row on every node,
/// <c>integrity_check</c> ok, each position carrying its database's checksum.
/// </summary>
[Collection("cluster")]
public class DiskFullTests
{
    private const string Db = "app.db";
    private const long DiskSize = 24L << 20;
    private static readonly TimeSpan ResumeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A passive checkpoint of the whole WAL, tried again while it reports itself blocked: the node
    /// holds SQLite's locks for a moment while it records a transaction or serves a replica.
    /// </summary>
    private static void CheckpointWhole(SqliteConnection writer)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Sql.Scalar(writer, "PRAGMA wal_checkpoint(PASSIVE)") is not 0L)
        {
            Assert.True(DateTime.UtcNow < deadline, "the WAL could not be checkpointed whole within 30 s");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public async Task WalPrimary_DiskFills_KeepsCommittedInWalAndResumes()
    {
        using var cluster = new Cluster(replicas: 1);
        using var disk = SmallDisk.Mount(cluster.Primary.DataDir, DiskSize);
        cluster.Start();
        var rows = new Rows(cluster);
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            rows.Create(writer, "WAL");
            // A WAL of some size, checkpointed whole: the next transactions overwrite it from its
            // start, so SQLite's own writes need no new space and the node's LTX files fail first.
            rows.Insert(writer, 300);
            CheckpointWhole(writer);
            cluster.WaitCaughtUp(Db);

            disk.Fill();
            var error = rows.InsertUntilFailure(writer);

            Assert.True(error.SqliteErrorCode is 13 or 10, $"SQLite error {error.SqliteErrorCode} ({error.Message}); SQLITE_FULL or SQLITE_IOERR expected");
            Assert.True(cluster.Primary.IsRunning, cluster.Describe());
            Assert.Contains($"litefs_db_disk_full{{db=\"{Db}\"}} 1", await MetricsAsync(cluster.Primary), StringComparison.Ordinal);
            AssertLogged(cluster, cluster.Primary, "the data directory is full, a committed WAL transaction cannot be recorded");

            disk.Free();
            rows.InsertWhenAccepted(writer);
            rows.Insert(writer, 10);
            AssertLogged(cluster, cluster.Primary, "space freed, transactions are recorded again");
            Assert.Contains($"litefs_db_disk_full{{db=\"{Db}\"}} 0", await MetricsAsync(cluster.Primary), StringComparison.Ordinal);
        }
        rows.AssertEveryNode();
    }

    [Fact]
    public async Task DeletePrimary_DiskFills_RollsBackAndResumes()
    {
        using var cluster = new Cluster(replicas: 1);
        using var disk = SmallDisk.Mount(cluster.Primary.DataDir, DiskSize);
        cluster.Start();
        var rows = new Rows(cluster);
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            rows.Create(writer, "DELETE");
            rows.Insert(writer, 20);
            cluster.WaitCaughtUp(Db);

            disk.Fill(leave: 256 << 10);
            var first = rows.InsertUntilFailure(writer);
            // The commit point (the journal's deletion) fails when the LTX file cannot be written:
            // SQLite reports an I/O error and rolls the transaction back from its hot journal.
            Assert.True(first.SqliteErrorCode == 10, $"SQLite error {first.SqliteErrorCode} ({first.Message}); SQLITE_IOERR expected\n{cluster.Describe()}");
            // The next transaction is refused before it changes anything.
            var next = rows.InsertUntilFailure(writer, max: 1);
            Assert.True(next.SqliteErrorCode == 13, $"SQLite error {next.SqliteErrorCode} ({next.Message}); SQLITE_FULL expected\n{cluster.Describe()}");
            Assert.True(cluster.Primary.IsRunning, cluster.Describe());
            var metrics = await MetricsAsync(cluster.Primary);
            Assert.Contains($"litefs_db_disk_full{{db=\"{Db}\"}} 1", metrics, StringComparison.Ordinal);
            Assert.DoesNotContain($"litefs_db_disk_full_errors_total{{db=\"{Db}\"}} 0", metrics, StringComparison.Ordinal);
            AssertLogged(cluster, cluster.Primary, "the data directory is full, a transaction cannot be recorded");

            disk.Free();
            rows.InsertWhenAccepted(writer);
            rows.Insert(writer, 10);
        }
        rows.AssertEveryNode();
    }

    [Fact]
    public void WalPrimary_RestartedOnFullDisk_StartsAndServesReads()
    {
        using var cluster = new Cluster(replicas: 1);
        using var disk = SmallDisk.Mount(cluster.Primary.DataDir, DiskSize);
        cluster.Start();
        var rows = new Rows(cluster);
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            rows.Create(writer, "WAL");
            rows.Insert(writer, 300);
            CheckpointWhole(writer);
            // Recorded but not checkpointed, growing the database: checkpointing them at start-up
            // needs space the full disk does not have.
            Sql.Exec(writer, "PRAGMA wal_autocheckpoint = 0");
            rows.Insert(writer, 40);
            cluster.WaitCaughtUp(Db);
            disk.Fill();
            rows.InsertUntilFailure(writer);
        }
        Assert.Equal(0, cluster.Primary.Stop());

        cluster.Primary.Start();
        AssertLogged(cluster, cluster.Primary, "the WAL is kept and followed instead of checkpointed");
        rows.AssertReads(cluster.Primary);

        disk.Free();
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            rows.InsertWhenAccepted(writer);
            rows.Insert(writer, 5);
        }
        rows.AssertEveryNode();
    }

    [Fact]
    public void Replica_DiskFills_CatchesUpAfterSpaceFreed()
    {
        using var cluster = new Cluster(replicas: 1, new ClusterOptions { Replica = new NodeSettings { ReconnectDelay = "200ms" } });
        var replica = cluster.Replicas[0];
        using var disk = SmallDisk.Mount(replica.DataDir, DiskSize);
        cluster.Start();
        var rows = new Rows(cluster);
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            rows.Create(writer, "DELETE");
            rows.Insert(writer, 20);
            cluster.WaitCaughtUp(Db);

            disk.Fill();
            rows.Insert(writer, 100);
            WaitFor(() => replica.Process.Stderr.Contains("No space left on device", StringComparison.Ordinal), "the replica to log that its disk is full", cluster);
            Assert.True(replica.IsRunning, cluster.Describe());
            // What it applied is whole: its database passes the check at its own position.
            var (code, stdout, stderr) = Sql.CliRun(replica.Path(Db), "PRAGMA integrity_check;", "-readonly");
            Assert.True(code == 0 && stdout == "ok\n", $"replica: sqlite3 exit {code}, '{stdout}', '{stderr}'");

            disk.Free();
            rows.Insert(writer, 5);
        }
        rows.AssertEveryNode();
    }

    private static async Task<string> MetricsAsync(ClusterNode node)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(node.Url + "/metrics"));
    }

    private static void AssertLogged(Cluster cluster, ClusterNode node, string text) =>
        WaitFor(() => node.Process.Stderr.Contains(text, StringComparison.Ordinal), $"{node.Name} to log \"{text}\"", cluster);

    private static void WaitFor(Func<bool> condition, string what, Cluster cluster)
    {
        var deadline = DateTime.UtcNow + ResumeTimeout;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
            {
                cluster.Fail($"timed out waiting for {what}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>Rows written on the primary one transaction each, the acknowledged ones kept; every node is checked for exactly those.</summary>
    private sealed class Rows(Cluster cluster)
    {
        private readonly List<long> _acknowledged = [];
        private long _next = 1;

        public void Create(SqliteConnection writer, string journalMode)
        {
            Assert.Equal(journalMode.ToLowerInvariant(), Sql.Scalar(writer, $"PRAGMA journal_mode = {journalMode}"));
            Sql.Exec(writer, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
        }

        /// <summary>Inserts <paramref name="count"/> rows that must all be acknowledged.</summary>
        public void Insert(SqliteConnection writer, int count)
        {
            for (var i = 0; i < count; i++)
            {
                InsertOne(writer);
            }
        }

        /// <summary>Inserts rows until SQLite refuses one (at most <paramref name="max"/>); returns its error.</summary>
        public SqliteException InsertUntilFailure(SqliteConnection writer, int max = 3000)
        {
            for (var i = 0; i < max; i++)
            {
                try
                {
                    InsertOne(writer);
                }
                catch (SqliteException ex)
                {
                    return ex;
                }
            }
            cluster.Fail($"{max} rows were accepted on a full disk");
            return null!;
        }

        /// <summary>Tries one row until SQLite accepts it (writes resume by themselves once space is freed).</summary>
        public void InsertWhenAccepted(SqliteConnection writer)
        {
            var deadline = DateTime.UtcNow + ResumeTimeout;
            while (true)
            {
                try
                {
                    InsertOne(writer);
                    return;
                }
                catch (SqliteException ex) when (DateTime.UtcNow < deadline)
                {
                    _ = ex;
                    Thread.Sleep(100);
                }
            }
        }

        private void InsertOne(SqliteConnection writer)
        {
            var id = _next++;
            Sql.Exec(writer, string.Create(CultureInfo.InvariantCulture, $"INSERT INTO t (id, v) VALUES ({id}, randomblob(1000))"));
            _acknowledged.Add(id);
        }

        /// <summary>The node serves every acknowledged row (read-only, as a reader on a full disk).</summary>
        public void AssertReads(ClusterNode node)
        {
            var expected = string.Join(',', _acknowledged);
            var (code, stdout, stderr) = Sql.CliRun(node.Path(Db), "PRAGMA integrity_check; SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id);", "-readonly");
            if (code != 0 || stdout != $"ok\n{expected}\n")
            {
                cluster.Fail($"{node.Name}: sqlite3 exit {code}, stdout '{stdout}', stderr '{stderr}'; expected rows {expected}");
            }
        }

        /// <summary>
        /// Every node caught up: the same position, <c>integrity_check</c> ok, exactly the
        /// acknowledged rows, a position whose checksum is the database's, identical files.
        /// </summary>
        public void AssertEveryNode()
        {
            var pos = cluster.WaitCaughtUp(Db);
            foreach (var node in cluster.Nodes.Where(n => n.IsRunning))
            {
                AssertReads(node);
                var image = SqliteFiles.LogicalDatabase(node.DbFile(Db), Path.Combine(node.DbDir(Db), "wal"));
                var checksum = SqliteFiles.ChecksumOf(image).ToString();
                if (node.ReadPos(Db) is not { } nodePos || !nodePos.EndsWith("/" + checksum, StringComparison.Ordinal))
                {
                    cluster.Fail($"{node.Name}'s position {node.ReadPos(Db)} (caught up at {pos}) does not carry its database's checksum {checksum}");
                }
            }
            cluster.AssertIdentical(Db);
        }
    }
}
