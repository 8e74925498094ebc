using System.Globalization;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>Cluster tests share one collection: they run one after another, not all at once on 2 cores.</summary>
[CollectionDefinition("cluster")]
public sealed class ClusterCollection;

/// <summary>
/// Replication between real <c>litefs mount</c> processes (static lease, a primary and
/// replicas on loopback): what SQLite writes on the primary reaches every replica exactly, and
/// replicas stay read-only.
/// </summary>
[Collection("cluster")]
public class ReplicationTests
{
    private const string Db = "app.db";

    public static TheoryData<string, int> Modes() => new()
    {
        { "DELETE", 4096 },
        { "PERSIST", 1024 },
        { "TRUNCATE", 65536 },
        { "WAL", 4096 },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void JournalMode_RandomWorkload_ReplicasIdentical(string journalMode, int pageSize)
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        var path = cluster.Primary.Path(Db);
        var random = new Random(HashCode.Combine(journalMode, pageSize) & 0x7fffffff);

        Sql.Cli(path, $"PRAGMA page_size = {pageSize}; PRAGMA journal_mode = {journalMode}; {WriteLoad.Schema}");
        using (var connection = Sql.Open(path))
        {
            // PERSIST and TRUNCATE are per connection; WAL is stored in the database.
            Sql.Exec(connection, $"PRAGMA journal_mode = {journalMode}");
            for (var round = 0; round < 30; round++)
            {
                RandomTransaction(connection, random, round);
            }
            // A bigger transaction grows the file by a few MB ...
            Sql.Exec(connection, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300) INSERT INTO t (txno, v) SELECT 1000 + x, randomblob(8000) FROM c");
            // ... deleting most of it leaves free pages, and VACUUM shrinks the file.
            Sql.Exec(connection, "DELETE FROM t WHERE txno > 1000 AND txno % 4 <> 0");
            Sql.Exec(connection, "VACUUM");
        }
        Sql.Cli(path, $"""
            PRAGMA journal_mode = {journalMode};
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) INSERT INTO t (txno, v) SELECT 2000 + x, randomblob(300) FROM c;
            UPDATE t SET v = randomblob(20) WHERE id % 7 = 0;
            DELETE FROM t WHERE id % 11 = 0;
            """);

        var pos = cluster.AssertIdentical(Db);

        var expected = Sql.Cli(path, "SELECT count(*), sum(length(v)) FROM t;");
        Assert.False(File.Exists(cluster.Primary.Path(".primary")), "the primary shows a .primary file");
        foreach (var replica in cluster.Replicas)
        {
            Assert.Equal(pos, replica.ReadPos(Db));
            Assert.Equal("primary\n", File.ReadAllText(replica.Path(".primary")));
            var (code, stdout, stderr) = Sql.CliRun(replica.Path(Db), "PRAGMA integrity_check; SELECT count(*), sum(length(v)) FROM t;", "-readonly");
            if (code != 0 || stdout != "ok\n" + expected)
            {
                cluster.Fail($"read on {replica.Name} gave exit {code}, stdout '{stdout}', stderr '{stderr}'; expected 'ok\n{expected}'");
            }
        }
    }

    [Theory]
    [InlineData("WAL")]
    [InlineData("DELETE")]
    public void OpenReadOnlyConnection_PrimaryWrites_SeesChangeOnNextRead(string journalMode)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var replica = cluster.Replicas[0];
        using var primary = Sql.Open(cluster.Primary.Path(Db));
        Sql.Exec(primary, $"PRAGMA journal_mode = {journalMode}");
        Sql.Exec(primary, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
        Sql.Exec(primary, "INSERT INTO t (v) VALUES (randomblob(100))");
        cluster.WaitCaughtUp(Db);

        using var reader = Sql.OpenReadOnly(replica.Path(Db));
        var expected = 1L;
        Assert.Equal(expected, Count(reader));
        for (var round = 0; round < 6; round++)
        {
            switch (round)
            {
                case 2:
                    // Grows the file: pages the replica's cache never saw.
                    Sql.Exec(primary, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200) INSERT INTO t (v) SELECT randomblob(5000) FROM c");
                    expected += 200;
                    break;
                case 4:
                    // Rewrites and shrinks every page.
                    Sql.Exec(primary, "DELETE FROM t WHERE id % 2 = 0");
                    Sql.Exec(primary, "VACUUM");
                    expected = (long)Sql.Scalar(primary, "SELECT count(*) FROM t")!;
                    break;
                default:
                    Sql.Exec(primary, "INSERT INTO t (v) VALUES (randomblob(100))");
                    expected++;
                    break;
            }
            var pos = cluster.WaitCaughtUp(Db);
            // No retry: the very next read transaction on the open connection must see it.
            var seen = Count(reader);
            if (seen != expected)
            {
                cluster.Fail($"round {round}: the replica's open connection sees {seen} rows at position {pos}, the primary has {expected}");
            }
        }
        Assert.Equal("ok", Sql.Scalar(reader, "PRAGMA integrity_check"));
    }

    [Theory]
    [InlineData("WAL", "disk I/O error")]
    [InlineData("DELETE", "attempt to write a readonly database")]
    public void Write_OnReplica_FailsAndChangesNothing(string journalMode, string expectedError)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var replica = cluster.Replicas[0];
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = {journalMode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('primary');");
        var pos = cluster.WaitCaughtUp(Db);
        var bytes = File.ReadAllBytes(replica.DbFile(Db));

        var (code, stdout, stderr) = Sql.CliRun(replica.Path(Db), "INSERT INTO t (v) VALUES ('replica');");
        if (code == 0 || !stderr.Contains(expectedError, StringComparison.Ordinal))
        {
            cluster.Fail($"sqlite3 writing on {replica.Name}: exit {code}, stdout '{stdout}', stderr '{stderr}'; expected a failure with '{expectedError}'");
        }
        using (var connection = Sql.Open(replica.Path(Db), timeoutSeconds: 5))
        {
            var error = Assert.Throws<SqliteException>(() => Sql.Exec(connection, "UPDATE t SET v = 'replica'"));
            Assert.Contains(expectedError, error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(pos, replica.ReadPos(Db));
        Assert.Equal(pos, cluster.Primary.ReadPos(Db));
        if (!bytes.AsSpan().SequenceEqual(File.ReadAllBytes(replica.DbFile(Db))))
        {
            cluster.Fail("the refused writes changed the replica's database file");
        }
        Assert.Equal("primary\n", Sql.CliRun(replica.Path(Db), "SELECT group_concat(v) FROM t;", "-readonly").Stdout);

        // Replication goes on after the refused writes.
        Sql.Cli(cluster.Primary.Path(Db), "INSERT INTO t (v) VALUES ('later');");
        cluster.AssertIdentical(Db);
        Assert.Equal("primary,later\n", Sql.CliRun(replica.Path(Db), "SELECT group_concat(v) FROM t;", "-readonly").Stdout);
    }

    private static long Count(SqliteConnection connection) =>
        Convert.ToInt64(Sql.Scalar(connection, "SELECT count(*) FROM t"), CultureInfo.InvariantCulture);

    /// <summary>One random transaction of inserts, updates and deletes on the <see cref="WriteLoad.Schema"/> table.</summary>
    private static void RandomTransaction(SqliteConnection connection, Random random, int round)
    {
        using var tx = connection.BeginTransaction();
        for (var op = random.Next(1, 4); op > 0; op--)
        {
            using var command = connection.CreateCommand();
            command.Transaction = tx;
            switch (random.Next(4))
            {
                case 0 or 1:
                    command.CommandText = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $n) INSERT INTO t (txno, v) SELECT $round, randomblob($size) FROM c";
                    command.Parameters.AddWithValue("$n", random.Next(1, 20));
                    command.Parameters.AddWithValue("$size", random.Next(10, 3000));
                    command.Parameters.AddWithValue("$round", round);
                    break;
                case 2:
                    command.CommandText = "UPDATE t SET v = randomblob($size) WHERE id % 5 = $k";
                    command.Parameters.AddWithValue("$size", random.Next(10, 2000));
                    command.Parameters.AddWithValue("$k", random.Next(5));
                    break;
                default:
                    command.CommandText = "DELETE FROM t WHERE id % 9 = $k";
                    command.Parameters.AddWithValue("$k", random.Next(9));
                    break;
            }
            command.ExecuteNonQuery();
        }
        tx.Commit();
    }
}
