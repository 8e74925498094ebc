namespace LiteFs.IntegrationTests;

/// <summary>The cluster fixture itself, on a primary alone: start, stop, kill, restart, positions, output.</summary>
[Collection("cluster")]
public class ReplicationClusterTests
{
    [Fact]
    public void Primary_StopKillRestart_KeepsDataAndPosition()
    {
        using var cluster = new Cluster(replicas: 0);
        cluster.Start();
        var primary = cluster.Primary;
        Assert.True(primary.IsRunning);
        Assert.Contains($"127.0.0.1:{primary.Port}", File.ReadAllText(primary.ConfigPath), StringComparison.Ordinal);
        Sql.Cli(primary.Path("a.db"), "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        var pos = cluster.WaitCaughtUp("a.db");
        Assert.Equal(2ul, Cluster.TxIdOf(pos));
        Assert.Equal([Cluster.LtxName(1, 1), Cluster.LtxName(2, 2)], primary.LtxFiles("a.db"));
        Assert.Null(primary.ReadPos("missing.db"));

        primary.Restart();
        cluster.WaitForPos(primary, "a.db", pos);
        primary.Kill();
        Assert.False(primary.IsRunning);
        primary.Start();
        cluster.WaitForPos(primary, "a.db", pos + "\n");
        Assert.Equal("1\n", Sql.Cli(primary.Path("a.db"), "SELECT x FROM t;"));
        Assert.Equal(pos, cluster.AssertIdentical("a.db"));

        var description = cluster.Describe();
        Assert.Contains("LiteFS mounted to", description, StringComparison.Ordinal);
        Assert.Contains("run 3", description, StringComparison.Ordinal);
        var error = Assert.ThrowsAny<Exception>(() => cluster.WaitForPos(primary, "a.db", "0000000000000009/0000000000000000", TimeSpan.FromMilliseconds(200)));
        Assert.Contains("LiteFS mounted to", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, primary.Stop());
    }
}
