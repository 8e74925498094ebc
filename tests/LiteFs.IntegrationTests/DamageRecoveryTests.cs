using System.Globalization;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Nodes whose own files were damaged while they were stopped: a flipped byte in an LTX file,
/// a truncated database file, a removed LTX folder. On a primary no acknowledged row is lost and
/// nothing is rolled back; a replica starts again from the primary's snapshot. Afterwards every
/// node passes <c>PRAGMA integrity_check</c>, holds every acknowledged row, shows a position
/// whose checksum is its database's, and the replicas converge; the log says what happened.
/// </summary>
[Collection("cluster")]
public class DamageRecoveryTests
{
    private const string Db = "app.db";

    /// <summary>
    /// The primary's newest LTX file flipped (the database holds its transaction: the file is
    /// made again from it) or removed (applying the file before it again would roll the last
    /// transactions back: the database is kept as a snapshot with the checksum the replicas
    /// already hold, at the first TXID after the files left, as the removed file may have held
    /// several transactions; in WAL mode they may still be in the WAL, and are recorded again).
    /// </summary>
    [Theory]
    [InlineData("DELETE", "flip")]
    [InlineData("WAL", "flip")]
    [InlineData("DELETE", "remove")]
    [InlineData("WAL", "remove")]
    public void PrimaryNewestLtxDamaged_Restarted_KeepsItsTransactions(string journalMode, string damage)
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var rows = new Rows(cluster, journalMode);
        rows.Insert(10);
        var before = cluster.WaitCaughtUp(Db);

        Assert.Equal(0, cluster.Primary.Stop());
        var newest = NewestLtx(cluster.Primary);
        Assert.Equal(Cluster.TxIdOf(before), LtxMaxTxId(newest));
        Assert.True(LtxFileName.TryParse(Path.GetFileName(newest), out var first, out _));
        if (damage == "flip")
        {
            FlipByte(newest);
        }
        else
        {
            File.Delete(newest);
        }
        cluster.Primary.Start();

        var pos = cluster.Primary.ReadPos(Db)!;
        Assert.Equal(before[17..], pos[17..]);
        if (damage == "flip")
        {
            Assert.Equal(Cluster.TxIdOf(before), Cluster.TxIdOf(pos));
            AssertLogged(cluster, cluster.Primary, "the database holds its transaction although LTX file");
        }
        else if (Cluster.TxIdOf(pos) != Cluster.TxIdOf(before))
        {
            // The removed file's transactions were checkpointed: the database is kept as a snapshot
            // at the first TXID after the files left. (Still in the WAL, they are recorded again
            // from it, at their own TXIDs.)
            Assert.Equal(first.Value, Cluster.TxIdOf(pos));
            AssertLogged(cluster, cluster.Primary, "is past its newest LTX file");
        }
        rows.Insert(5);
        rows.AssertEveryNode();
    }

    [Fact]
    public void ReplicaNewestLtxCorrupt_Restarted_GetsAFreshSnapshot()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var rows = new Rows(cluster, "DELETE");
        rows.Insert(10);
        cluster.WaitCaughtUp(Db);
        var replica = cluster.Replicas[0];

        Assert.Equal(0, replica.Stop());
        FlipByte(NewestLtx(replica));
        replica.Start();

        var pos = cluster.WaitCaughtUp(Db);
        AssertLogged(cluster, replica, "cannot be recovered on this replica");
        Assert.Contains(Cluster.LtxName(1, Cluster.TxIdOf(pos)), replica.LtxFiles(Db));
        rows.Insert(3);
        rows.AssertEveryNode();
    }

    [Fact]
    public async Task OlderLtxCorruptOnPrimary_ReplicaCatchingUp_GetsSnapshotInstead()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var rows = new Rows(cluster, "DELETE");
        rows.Insert(3);
        var stoppedAt = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));
        var replica = cluster.Replicas[0];

        Assert.Equal(0, replica.Stop());
        rows.Insert(10);
        // A file in the middle of what the replica must catch up on.
        var damaged = Path.Combine(cluster.Primary.LtxDir(Db), Cluster.LtxName(stoppedAt + 3, stoppedAt + 3));
        FlipByte(damaged);
        replica.Start();

        rows.AssertEveryNode();
        AssertLogged(cluster, cluster.Primary, $"stored LTX file {Path.GetFileName(damaged)} of {Db} is damaged");
        Assert.DoesNotContain("invalid stream frame type", replica.Process.Stderr, StringComparison.Ordinal);
        using var http = new HttpClient();
        var info = await http.GetStringAsync(new Uri(replica.Url + "/info"));
        Assert.DoesNotContain("\"healthy\"", info, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public void PrimaryDatabaseTruncated_Restarted_RebuiltFromItsHistory(string journalMode)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var rows = new Rows(cluster, journalMode);
        rows.Insert(10);
        var before = cluster.WaitCaughtUp(Db);

        Assert.Equal(0, cluster.Primary.Stop());
        Truncate(cluster.Primary.DbFile(Db), 50);
        cluster.Primary.Start();

        Assert.Equal(before, cluster.Primary.ReadPos(Db));
        AssertLogged(cluster, cluster.Primary, "rebuilt from LTX files");
        Assert.Equal(50, new FileInfo(cluster.Primary.DbFile(Db) + ".corrupt").Length);
        rows.Insert(3);
        rows.AssertEveryNode();
    }

    [Fact]
    public void PrimaryDatabaseTruncated_HistoryTrimmed_RefusesUntilRecovered()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var rows = new Rows(cluster, "DELETE");
        rows.Insert(10);
        var before = Cluster.TxIdOf(cluster.WaitCaughtUp(Db));
        var primary = cluster.Primary;
        var replica = cluster.Replicas[0];

        Assert.Equal(0, primary.Stop());
        Truncate(primary.DbFile(Db), 50);
        // As if retention had removed the oldest files: the history no longer starts at TXID 1.
        File.Delete(Path.Combine(primary.LtxDir(Db), Cluster.LtxName(1, 1)));
        File.Delete(Path.Combine(primary.LtxDir(Db), Cluster.LtxName(2, 2)));
        var files = primary.LtxFiles(Db);

        var code = primary.RunToExit();
        if (code != 1)
        {
            cluster.Fail($"the primary started over a damaged database (exit {code})");
        }
        var stderr = primary.Process.Stderr;
        Assert.Contains($"ERROR: cannot open database {Db}: {primary.DbFile(Db)} is not a SQLite database", stderr, StringComparison.Ordinal);
        Assert.Contains($"litefs recover -name {Db}", stderr, StringComparison.Ordinal);
        Assert.Equal(50, new FileInfo(primary.DbFile(Db)).Length);
        Assert.Equal(files, primary.LtxFiles(Db));

        // The operator's way out: the replica's copy becomes the primary's, then a new history.
        Assert.Equal(0, replica.Stop());
        File.Copy(replica.DbFile(Db), primary.DbFile(Db), overwrite: true);
        var (recoverCode, recoverOut, recoverErr) = LiteFsCommand.Run("recover", "-name", Db, "-config", primary.ConfigPath);
        Assert.True(recoverCode == 0, $"litefs recover exited {recoverCode}: {recoverOut}{recoverErr}");
        Assert.Contains("new history from a snapshot of the database at position " + (before + 1).ToString("x16", CultureInfo.InvariantCulture), recoverOut, StringComparison.Ordinal);
        primary.Start();
        replica.Start();
        Assert.Equal(before + 1, Cluster.TxIdOf(cluster.WaitCaughtUp(Db)));
        rows.Insert(3);
        rows.AssertEveryNode();
    }

    [Fact]
    public void ReplicaDatabaseTruncated_Restarted_ReplicatedAgain()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var rows = new Rows(cluster, "DELETE");
        rows.Insert(10);
        cluster.WaitCaughtUp(Db);
        var replica = cluster.Replicas[0];

        Assert.Equal(0, replica.Stop());
        Truncate(replica.DbFile(Db), 50);
        replica.Start();

        rows.AssertEveryNode();
        AssertLogged(cluster, replica, "is not a SQLite database; discarding its folder on this replica, it will be replicated again");
    }

    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public void PrimaryLtxFolderDeleted_Restarted_SnapshotsTheDatabase(string journalMode)
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var rows = new Rows(cluster, journalMode);
        rows.Insert(10);
        var before = cluster.WaitCaughtUp(Db);

        Assert.Equal(0, cluster.Primary.Stop());
        Directory.Delete(cluster.Primary.LtxDir(Db), recursive: true);
        cluster.Primary.Start();

        var pos = cluster.Primary.ReadPos(Db)!;
        Assert.Equal("0000000000000001/" + before[17..], pos);
        AssertLogged(cluster, cluster.Primary, "has pages but no LTX history");
        Assert.Equal(pos, cluster.WaitCaughtUp(Db));
        rows.Insert(3);
        rows.AssertEveryNode();
    }

    [Fact]
    public void ReplicaLtxFolderDeleted_Restarted_Converges()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var rows = new Rows(cluster, "WAL");
        rows.Insert(10);
        cluster.WaitCaughtUp(Db);
        var replica = cluster.Replicas[0];

        Assert.Equal(0, replica.Stop());
        Directory.Delete(replica.LtxDir(Db), recursive: true);
        replica.Start();

        rows.AssertEveryNode();
        AssertLogged(cluster, replica, "has pages but no LTX history on this replica");
    }

    /// <summary>The database's newest LTX file on the node.</summary>
    private static string NewestLtx(ClusterNode node) => Path.Combine(node.LtxDir(Db), node.LtxFiles(Db).OrderBy(LtxMaxTxId).Last());

    private static ulong LtxMaxTxId(string path) =>
        LtxFileName.TryParse(Path.GetFileName(path), out _, out var max) ? max.Value : throw new ArgumentException($"not an LTX file name: {path}");

    /// <summary>Flips one bit in the middle of the file: its length stays, its checksum no longer matches.</summary>
    private static void FlipByte(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
    }

    private static void Truncate(string path, int length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(length);
    }

    private static void AssertLogged(Cluster cluster, ClusterNode node, string text)
    {
        if (!node.Process.Stderr.Contains(text, StringComparison.Ordinal))
        {
            cluster.Fail($"{node.Name} did not log \"{text}\"");
        }
    }

    /// <summary>Rows written on the primary one transaction each; every node is checked for all of them.</summary>
    private sealed class Rows
    {
        private readonly Cluster _cluster;
        private readonly List<long> _acknowledged = [];

        public Rows(Cluster cluster, string journalMode)
        {
            _cluster = cluster;
            Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = {journalMode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);");
        }

        /// <summary>Inserts <paramref name="count"/> rows, one transaction each (sqlite3 exits 0 only if every one committed).</summary>
        public void Insert(int count)
        {
            var first = _acknowledged.Count + 1;
            var ids = Enumerable.Range(first, count).Select(i => (long)i).ToList();
            Sql.Cli(_cluster.Primary.Path(Db), string.Concat(ids.Select(id => $"INSERT INTO t (id, v) VALUES ({id}, randomblob(300));\n")));
            _acknowledged.AddRange(ids);
        }

        /// <summary>
        /// Every node caught up: the same position, <c>integrity_check</c> ok, every acknowledged row,
        /// a position whose checksum is the database's (file plus committed WAL frames), identical files.
        /// </summary>
        public void AssertEveryNode()
        {
            var pos = _cluster.WaitCaughtUp(Db);
            var expected = string.Join(',', _acknowledged);
            foreach (var node in _cluster.Nodes.Where(n => n.IsRunning))
            {
                var (code, stdout, stderr) = Sql.CliRun(node.Path(Db), "PRAGMA integrity_check; SELECT group_concat(id) FROM (SELECT id FROM t ORDER BY id);", "-readonly");
                if (code != 0 || stdout != $"ok\n{expected}\n")
                {
                    _cluster.Fail($"{node.Name} at {pos}: sqlite3 exit {code}, stdout '{stdout}', stderr '{stderr}'; expected rows {expected}");
                }
                var image = SqliteFiles.LogicalDatabase(node.DbFile(Db), Path.Combine(node.DbDir(Db), "wal"));
                var checksum = SqliteFiles.ChecksumOf(image).ToString();
                if (node.ReadPos(Db) is not { } nodePos || !nodePos.EndsWith("/" + checksum, StringComparison.Ordinal))
                {
                    _cluster.Fail($"{node.Name}'s position {node.ReadPos(Db)} does not carry its database's checksum {checksum}");
                }
            }
            _cluster.AssertIdentical(Db);
        }
    }
}
