using LiteFs.Core.Replication;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A mounted primary and a mounted replica in the test process, linked by the real stream
/// logic over an in-memory pipe: what SQLite sees on the replica's mount.
/// </summary>
public sealed class InProcessReplicationTests : IDisposable
{
    private readonly NodeFixture _primary = new();
    private readonly NodeFixture _replica = new(primary: false);
    private readonly ReplicaClient _client;

    public InProcessReplicationTests()
    {
        _client = new ReplicaClient(_replica.Store, new PipePrimaryClient(_primary.Store), new ReplicaOptions { ReconnectDelay = TimeSpan.FromMilliseconds(100) });
        _client.Start();
    }

    private void WaitCaughtUp(string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            // Every transaction SQLite acknowledged on the primary, recorded or not yet.
            var want = _primary.Store.Find(name)?.RecordCommitted();
            if (want is { } p && !p.IsZero && _replica.Store.Find(name)?.Pos == p)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"replica did not reach {want} (at {_replica.Store.Find(name)?.Pos})");
            Thread.Sleep(5);
        }
    }

    [Theory]
    [InlineData("WAL")]
    [InlineData("DELETE")]
    public void OpenReplicaConnection_SeesEachNewTransaction(string journalMode)
    {
        using (var writer = Sql.Open(_primary.Path("app.db")))
        {
            Sql.Exec(writer, $"PRAGMA journal_mode = {journalMode}");
            Sql.Exec(writer, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
            Sql.Exec(writer, "INSERT INTO t (v) VALUES ('first')");
        }
        WaitCaughtUp("app.db");
        using var reader = Sql.Open(_replica.Path("app.db") );
        Assert.Equal(1L, Sql.Scalar(reader, "SELECT count(*) FROM t"));
        using var writer2 = Sql.Open(_primary.Path("app.db"));
        for (var i = 2; i <= 30; i++)
        {
            Sql.Exec(writer2, $"INSERT INTO t (v) VALUES ('row {i}')");
            WaitCaughtUp("app.db");
            Assert.Equal((long)i, Sql.Scalar(reader, "SELECT count(*) FROM t"));
            Assert.Equal($"row {i}", Sql.Scalar(reader, "SELECT v FROM t ORDER BY id DESC LIMIT 1"));
        }
        Assert.Equal("ok", Sql.Scalar(reader, "PRAGMA integrity_check"));
        Assert.Equal(File.ReadAllText(_primary.Path("app.db-pos")), File.ReadAllText(_replica.Path("app.db-pos")));
        Assert.Equal("primary\n", File.ReadAllText(_replica.Path(".primary")));
        Assert.False(File.Exists(_primary.Path(".primary")));
        Assert.Equal("+000000000\n", File.ReadAllText(_primary.Path(".lag")));
        Assert.Matches(@"^\+\d{9}\n$", File.ReadAllText(_replica.Path(".lag")));
    }

    [Fact]
    public void ReplicaWrite_FailsWithSqliteError_AndChangesNothing()
    {
        using (var writer = Sql.Open(_primary.Path("app.db")))
        {
            Sql.Exec(writer, "PRAGMA journal_mode = WAL");
            Sql.Exec(writer, "CREATE TABLE t (v TEXT)");
        }
        WaitCaughtUp("app.db");
        var before = File.ReadAllText(_replica.Path("app.db-pos"));
        using var connection = Sql.Open(_replica.Path("app.db"), timeoutSeconds: 2);
        var ex = Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => Sql.Exec(connection, "INSERT INTO t VALUES ('x')"));
        Assert.Contains(ex.SqliteErrorCode, new[] { 8, 10 });
        Assert.Equal(before, File.ReadAllText(_replica.Path("app.db-pos")));
        Assert.Equal(0L, Sql.Scalar(connection, "SELECT count(*) FROM t"));
    }

    // 6 MB transactions: larger than the commit buffer the node keeps between transactions.
    [Theory]
    [InlineData("WAL")]
    [InlineData("DELETE")]
    public void LargeTransactions_Replicate(string journalMode)
    {
        using (var writer = Sql.Open(_primary.Path("big.db")))
        {
            Sql.Exec(writer, $"PRAGMA journal_mode = {journalMode}");
            Sql.Exec(writer, "CREATE TABLE b (tx INTEGER, v BLOB)");
            for (var tx = 0; tx < 5; tx++)
            {
                Sql.Exec(writer, $"INSERT INTO b WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) SELECT {tx}, randomblob(3000) FROM c");
            }
        }
        WaitCaughtUp("big.db");
        using var reader = Sql.Open(_replica.Path("big.db"));
        Assert.Equal(10000L, Sql.Scalar(reader, "SELECT count(*) FROM b"));
        Assert.Equal("ok", Sql.Scalar(reader, "PRAGMA integrity_check"));
        Assert.Equal(_primary.Store.Find("big.db")!.Pos, _replica.Store.Find("big.db")!.Pos);
    }

    public void Dispose()
    {
        _client.Dispose();
        _replica.Dispose();
        _primary.Dispose();
    }
}
