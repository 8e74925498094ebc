using System.Globalization;
using System.Text;
using LiteFs.Http;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>The lease service a <see cref="LeaseCluster"/> runs its nodes on.</summary>
public enum LeaseBackend
{
    /// <summary>A real etcd on loopback (<see cref="EtcdServer"/>).</summary>
    Etcd,

    /// <summary>The in-process stand-in for a Consul agent (<see cref="ConsulStandIn"/>).</summary>
    Consul,
}

/// <summary>
/// Candidate <c>litefs mount</c> processes on a lease that moves (etcd or the Consul stand-in),
/// each reaching the lease service through a <see cref="FaultProxy"/> of its own, so a test can
/// cut one node from the service while replication between nodes goes on. The nodes are
/// <see cref="ClusterNode"/>s; who is primary is read from each node's <c>/info</c>. Disposing
/// kills every process by PID, detaches mounts, stops the service and removes the directory.
/// </summary>
public sealed class LeaseCluster : IDisposable
{
    /// <summary>The lease's TTL: etcd's minimum (it rounds shorter leases up to 2 s).</summary>
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    /// <summary>How long waits for a primary or for replication may take on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TempDir _dir = new("litefs-lease-cluster");
    private readonly List<ClusterNode> _nodes = [];
    private readonly List<FaultProxy> _proxies = [];
    private readonly NodeClient _client = new(TimeSpan.FromSeconds(1));
    private EtcdServer? _etcd;
    private ConsulStandIn? _consul;

    /// <summary>
    /// Starts the lease service and creates (but does not start) <paramref name="nodes"/>
    /// candidates, with <paramref name="leaseSettings"/> (YAML lines indented under <c>lease:</c>) added to each one's lease.
    /// </summary>
    public LeaseCluster(LeaseBackend backend, int nodes = 3, string leaseSettings = "")
    {
        Backend = backend;
        try
        {
            int servicePort;
            if (backend == LeaseBackend.Etcd)
            {
                _etcd = EtcdServer.Start();
                servicePort = _etcd.ClientPort;
            }
            else
            {
                _consul = ConsulStandIn.StartAsync(minSessionTtl: TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
                servicePort = new Uri(_consul.Url).Port;
            }
            for (var i = 1; i <= nodes; i++)
            {
                var proxy = new FaultProxy(servicePort);
                _proxies.Add(proxy);
                var name = $"node{i}";
                var port = FreePort.Next();
                _nodes.Add(new ClusterNode(name, _dir.Combine(name), false, port, "", new NodeSettings(), LeaseYaml(backend, name, port, proxy.Url, leaseSettings)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Which lease service the nodes use.</summary>
    public LeaseBackend Backend { get; }

    /// <summary>The nodes, in order.</summary>
    public IReadOnlyList<ClusterNode> Nodes => _nodes;

    /// <summary>The nodes whose process runs.</summary>
    public IEnumerable<ClusterNode> Running => _nodes.Where(n => n.IsRunning);

    /// <summary>The proxy between <paramref name="node"/> and the lease service.</summary>
    public FaultProxy LeaseLinkOf(ClusterNode node) => _proxies[_nodes.IndexOf(node)];

    private static string LeaseYaml(LeaseBackend backend, string name, int port, string serviceUrl, string leaseSettings)
    {
        var yaml = new StringBuilder();
        yaml.Append("lease:\n");
        yaml.Append(leaseSettings);
        yaml.Append(backend == LeaseBackend.Etcd ? "  type: \"etcd\"\n" : "  type: \"consul\"\n");
        yaml.Append("  candidate: true\n");
        yaml.Append(CultureInfo.InvariantCulture, $"  hostname: \"{name}\"\n");
        yaml.Append(CultureInfo.InvariantCulture, $"  advertise-url: \"http://127.0.0.1:{port}\"\n");
        yaml.Append("  reconnect-delay: \"100ms\"\n");
        yaml.Append("  demote-delay: \"2s\"\n");
        var ttl = $"{(int)Ttl.TotalSeconds}s";
        if (backend == LeaseBackend.Etcd)
        {
            yaml.Append("  etcd:\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    endpoints: [\"{serviceUrl}\"]\n");
            yaml.Append("    key: \"/litefs/test/primary\"\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    ttl: \"{ttl}\"\n");
        }
        else
        {
            yaml.Append("  consul:\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    url: \"{serviceUrl}\"\n");
            yaml.Append("    key: \"litefs/test/primary\"\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    ttl: \"{ttl}\"\n");
            // Consul's lock-delay holds the key after a session expires; short, so failover is TTL-bound.
            yaml.Append("    lock-delay: \"10ms\"\n");
        }
        if (Environment.GetEnvironmentVariable("LITEFS_KEEP_FAILED") is { Length: > 0 } && Environment.GetEnvironmentVariable("LITEFS_FUSE_DEBUG") is not { Length: > 0 })
        {
            // Kept for investigation: when each line was written (and with LITEFS_NODE_DEBUG the
            // replicas' frames, which slows them a little).
            yaml.Append("log:\n  timestamp: true\n");
            if (Environment.GetEnvironmentVariable("LITEFS_NODE_DEBUG") is { Length: > 0 })
            {
                yaml.Append("  debug: true\n");
            }
        }
        return yaml.ToString();
    }

    /// <summary>Starts the nodes one after the other (each waits for its own mount) and waits for a primary.</summary>
    public ClusterNode Start()
    {
        // Together: a start is mostly the runtime warming up, which overlaps well.
        Parallel.ForEach(_nodes, node => node.Start());
        return WaitForPrimary();
    }

    /// <summary>Whether the node says it is primary in <c>/info</c> (false when it does not answer).</summary>
    public bool IsPrimary(ClusterNode node)
    {
        if (!node.IsRunning)
        {
            return false;
        }
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            return _client.GetInfoAsync(node.Url, timeout.Token).GetAwaiter().GetResult().IsPrimary;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or Core.LiteFsException)
        {
            return false;
        }
    }

    /// <summary>The running nodes that say they are primary.</summary>
    public List<ClusterNode> Primaries() => [.. Running.Where(IsPrimary)];

    /// <summary>Polls until exactly one running node (other than <paramref name="not"/>) is primary; returns it.</summary>
    public ClusterNode WaitForPrimary(ClusterNode? not = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Patience;
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            var primaries = Primaries();
            if (primaries.Count == 1 && primaries[0] != not)
            {
                return primaries[0];
            }
            if (DateTime.UtcNow >= until)
            {
                Fail($"no single primary{(not is null ? "" : " other than " + not.Name)} within {limit.TotalSeconds} s (primaries: {string.Join(", ", primaries.Select(p => p.Name))})");
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>Polls until every running node shows the same non-zero position of the database; returns it.</summary>
    public string WaitConverged(string name, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Patience;
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            var positions = Running.Select(n => (n.Name, Pos: n.ReadPos(name))).ToList();
            if (positions.Count > 0 && positions[0].Pos is { } first && first != "0000000000000000/0000000000000000" && positions.All(p => p.Pos == first))
            {
                return first;
            }
            if (DateTime.UtcNow >= until)
            {
                Fail($"nodes did not converge on {name} within {limit.TotalSeconds} s: {string.Join(", ", positions.Select(p => $"{p.Name} {p.Pos ?? "nothing"}"))}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// After convergence: the primary checkpoints (so its file holds every page), every running
    /// node's database file is byte-identical to the primary's, and <c>integrity_check</c> is ok
    /// on each node's mount.
    /// </summary>
    public void AssertIdentical(string name)
    {
        var primary = WaitForPrimary();
        WaitConverged(name);
        if (Cluster.IsWalDatabase(primary.DbFile(name)))
        {
            var result = Run(primary, name, "PRAGMA wal_checkpoint(TRUNCATE);");
            if (!result.StartsWith("0|", StringComparison.Ordinal))
            {
                Fail($"the checkpoint on {primary.Name} did not complete (busy|log|checkpointed = {result})");
            }
        }
        var pos = WaitConverged(name);
        WaitOwnWalsCheckpointed(primary, name);
        foreach (var node in Running)
        {
            var check = Run(node, name, "PRAGMA integrity_check;");
            if (check != "ok")
            {
                Fail($"integrity_check on {node.Name}: {check}");
            }
            if (node != primary && Cluster.FirstDifference(primary.DbFile(name), node.DbFile(name)) is { } difference)
            {
                Fail($"{node.Name}'s {name} differs from {primary.Name}'s at {pos}: {difference}");
            }
        }
    }

    /// <summary>
    /// A node that was primary can reach the position with its own transactions still in its WAL
    /// (the next primary started from them): it checkpoints them once it follows the primary. Each
    /// replica's WAL holds no frames within <see cref="Patience"/>.
    /// </summary>
    private void WaitOwnWalsCheckpointed(ClusterNode primary, string name)
    {
        var until = DateTime.UtcNow + Patience;
        foreach (var node in Running.Where(n => n != primary))
        {
            var wal = System.IO.Path.Combine(node.DbDir(name), "wal");
            while (File.Exists(wal) && new FileInfo(wal).Length > 32)
            {
                if (DateTime.UtcNow >= until)
                {
                    Fail($"{node.Name}'s WAL still holds frames ({new FileInfo(wal).Length} bytes) {Patience.TotalSeconds} s after it reached the primary's position");
                }
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Runs SQL on the node's mount with the sqlite3 tool; a failure fails the test with every node's output.</summary>
    private string Run(ClusterNode node, string name, string sql)
    {
        var (code, stdout, stderr) = Sql.CliRun(node.Path(name), sql);
        if (code != 0)
        {
            Fail($"sqlite3 on {node.Name} ({sql}) failed ({code}): {stderr}");
        }
        return stdout.Trim();
    }

    /// <summary>Throws with <paramref name="message"/> followed by every node's output.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Fail(string message)
    {
        if (Environment.GetEnvironmentVariable("LITEFS_KEEP_FAILED") is { Length: > 0 } keep)
        {
            // For investigation: every node's whole output and data directory.
            var into = System.IO.Path.Combine(keep, $"lease-cluster-{DateTime.UtcNow:HHmmss}");
            foreach (var node in _nodes)
            {
                Directory.CreateDirectory(System.IO.Path.Combine(into, node.Name));
                File.WriteAllText(System.IO.Path.Combine(into, node.Name, "output.txt"), message + "\n" + node.Describe(int.MaxValue - 1));
                NodeFixture.CopyTree(node.DataDir, System.IO.Path.Combine(into, node.Name, "data"));
            }
        }
        Assert.Fail($"{message}\n{Describe()}");
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Every node's state and output tail.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        foreach (var node in _nodes)
        {
            // Every write the test tries on a replica is refused and logged.
            text.Append(node.Describe(40, omit: "threw; answered E"));
        }
        return text.ToString();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }
        foreach (var proxy in _proxies)
        {
            proxy.Dispose();
        }
        _etcd?.Dispose();
        _consul?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _client.Dispose();
        try
        {
            _dir.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A mount that could not be detached keeps its directory; test.sh removes stale mounts.
        }
    }
}
