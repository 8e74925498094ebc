using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// <c>litefs mount</c> processes on an etcd lease (a real etcd on loopback): the first candidate
/// becomes primary and the other replicates from it; when the primary is killed, the other takes
/// the lease once it expired and accepts writes; the old node, started again, follows the new
/// primary and catches up.
/// </summary>
public sealed class LeaseFailoverTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TempDir _root = new("litefs-lease-failover");
    private readonly EtcdServer _etcd = EtcdServer.Start();
    private readonly List<NodeProcess> _nodes = [];

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }
        _etcd.Dispose();
        _root.Dispose();
    }

    private NodeProcess Node(string name)
    {
        Directory.CreateDirectory(_root.Combine(name));
        var node = new NodeProcess(_root.Combine(name));
        File.WriteAllText(node.ConfigPath, $"""
            fuse:
              dir: "{node.MountPoint}"
            data:
              dir: "{node.DataDir}"
              retention-monitor-interval: "0s"
            http:
              addr: "127.0.0.1:{node.Port}"
            lease:
              type: "etcd"
              candidate: true
              hostname: "{name}"
              advertise-url: "http://127.0.0.1:{node.Port}"
              reconnect-delay: "200ms"
              etcd:
                endpoints: ["{_etcd.Url}"]
                key: "/litefs/failover/primary"
                ttl: "2s"
            """);
        _nodes.Add(node);
        return node;
    }

    private static void WaitForRow(string database, long expected)
    {
        var until = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                if (File.Exists(database) && Sql.Cli(database, "SELECT count(*) FROM t;").Trim() == expected.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
            }
            Assert.True(DateTime.UtcNow < until, $"{database} did not reach {expected} rows");
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void PrimaryKilled_OtherCandidateTakesTheLease_OldNodeRejoinsAsReplica()
    {
        var a = Node("node-a");
        a.Start();
        a.Process.WaitForOutput("primary lease acquired", Patience);
        Sql.Cli(Path.Combine(a.MountPoint, "app.db"), "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);");

        var b = Node("node-b");
        b.Start();
        b.Process.WaitForOutput("node ready", Patience);
        Assert.DoesNotContain("primary lease acquired", b.Process.Stdout, StringComparison.Ordinal);
        var onB = Path.Combine(b.MountPoint, "app.db");
        WaitForRow(onB, 1);
        var refused = Sql.CliRun(onB, "INSERT INTO t VALUES (99);");
        Assert.NotEqual(0, refused.ExitCode);

        a.Kill();
        b.Process.WaitForOutput("primary lease acquired", Patience);
        Sql.Cli(onB, "INSERT INTO t VALUES (2);");
        WaitForRow(onB, 2);

        // The old primary comes back: the lease is b's, so it follows b and gets the new row.
        if (Mounts.IsMounted(a.MountPoint))
        {
            Mounts.ForceDetach(a.MountPoint);
        }
        a.Start();
        a.Process.WaitForOutput("node ready", Patience);
        WaitForRow(Path.Combine(a.MountPoint, "app.db"), 2);
        Assert.Equal(0, CountOccurrences(a.Process.Stdout, "primary lease acquired"));

        // A clean stop of the primary hands the lease over without waiting for the TTL.
        var stopping = DateTime.UtcNow;
        Assert.Equal(0, b.Stop());
        a.Process.WaitForOutput("primary lease acquired", TimeSpan.FromSeconds(10));
        Assert.True(DateTime.UtcNow - stopping < TimeSpan.FromSeconds(10));
        Sql.Cli(Path.Combine(a.MountPoint, "app.db"), "INSERT INTO t VALUES (3);");
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
