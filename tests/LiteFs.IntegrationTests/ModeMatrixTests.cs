using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Every journal mode × page size × compression: a randomized workload through
/// Microsoft.Data.Sqlite and the sqlite3 CLI, then the database must be intact and exactly
/// reproducible from its LTX files.
/// </summary>
public class ModeMatrixTests
{
    public static TheoryData<string, int, bool> Matrix()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (var mode in new[] { "DELETE", "PERSIST", "TRUNCATE", "WAL" })
        {
            foreach (var pageSize in new[] { 1024, 4096, 65536 })
            {
                foreach (var compress in new[] { true, false })
                {
                    data.Add(mode, pageSize, compress);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void RandomWorkload_IsReplicableByteForByte(string journalMode, int pageSize, bool compress)
    {
        using var node = new NodeFixture(compress);
        var path = node.Path("app.db");
        var random = new Random(HashCode.Combine(journalMode, pageSize, compress) & 0x7fffffff);
        var expectedRows = 0L;

        using (var connection = Sql.Open(path))
        {
            Sql.Exec(connection, $"PRAGMA page_size = {pageSize}");
            Sql.Exec(connection, $"PRAGMA journal_mode = {journalMode}");
            Sql.Exec(connection, "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL)");
            Sql.Exec(connection, "CREATE INDEX t_k ON t (k)");
            for (var round = 0; round < 40; round++)
            {
                expectedRows += RandomTransaction(connection, random);
                if (round == 25)
                {
                    Sql.Exec(connection, "VACUUM");
                }
            }
            Assert.Equal(expectedRows, (long)Sql.Scalar(connection, "SELECT count(*) FROM t")!);
        }

        // The same database through the command-line tool.
        var output = Sql.Cli(path, $"""
            PRAGMA journal_mode = {journalMode};
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) INSERT INTO t (k, v) SELECT x, randomblob(300) FROM c;
            DELETE FROM t WHERE id % 3 = 0;
            SELECT count(*) FROM t;
            """);
        Assert.NotEmpty(output);

        using (var connection = Sql.Open(path))
        {
            Assert.Equal("ok", Sql.Scalar(connection, "PRAGMA integrity_check"));
            Assert.Equal(pageSize, Convert.ToInt32(Sql.Scalar(connection, "PRAGMA page_size"), System.Globalization.CultureInfo.InvariantCulture));
        }
        node.AssertReplicable("app.db");
    }

    /// <summary>One random transaction; returns the change in row count.</summary>
    private static long RandomTransaction(SqliteConnection connection, Random random)
    {
        using var tx = connection.BeginTransaction();
        long delta = 0;
        var ops = random.Next(1, 4);
        for (var i = 0; i < ops; i++)
        {
            using var command = connection.CreateCommand();
            command.Transaction = tx;
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    var n = random.Next(1, 20);
                    command.CommandText = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $n) INSERT INTO t (k, v) SELECT abs(random()) % 1000, randomblob($size) FROM c";
                    command.Parameters.AddWithValue("$size", random.Next(10, 3000));
                    command.Parameters.AddWithValue("$n", n);
                    delta += command.ExecuteNonQuery();
                    break;
                case 2:
                    command.CommandText = "UPDATE t SET v = randomblob(length(v) / 2 + 1), k = k + 1 WHERE k % 7 = $m";
                    command.Parameters.AddWithValue("$m", random.Next(7));
                    command.ExecuteNonQuery();
                    break;
                default:
                    command.CommandText = "DELETE FROM t WHERE k % 11 = $m";
                    command.Parameters.AddWithValue("$m", random.Next(11));
                    delta -= command.ExecuteNonQuery();
                    break;
            }
        }
        tx.Commit();
        return delta;
    }
}
