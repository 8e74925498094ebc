using System.Net;
using LiteFs.ProxyTestApp;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A primary and a replica (<c>litefs mount</c> processes, the replica's link to the primary
/// through a <see cref="FaultProxy"/>), each with the HTTP proxy in front of its own
/// <see cref="TestApp"/> over <c>app.db</c> in the node's mount. Shared by the proxy tests.
/// </summary>
public sealed class ProxyCluster : IAsyncLifetime
{
    public const string MaxLag = "1500ms";

    private Cluster? _cluster;

    public Cluster Cluster => _cluster!;

    public ClusterNode Primary => Cluster.Primary;

    public ClusterNode Replica => Cluster.Replicas[0];

    public int PrimaryProxyPort { get; } = FreePort.Next();

    public int ReplicaProxyPort { get; } = FreePort.Next();

    public int PrimaryAppPort { get; } = FreePort.Next();

    public int ReplicaAppPort { get; } = FreePort.Next();

    public string PrimaryProxy => $"http://127.0.0.1:{PrimaryProxyPort}";

    public string ReplicaProxy => $"http://127.0.0.1:{ReplicaProxyPort}";

    public TestApp PrimaryApp { get; private set; } = null!;

    public TestApp? ReplicaApp { get; set; }

    public static string ProxyYaml(int proxyPort, int appPort, string extra = "") =>
        "proxy:\n" +
        $"  addr: \"127.0.0.1:{proxyPort}\"\n" +
        $"  target: \"127.0.0.1:{appPort}\"\n" +
        "  db: \"app.db\"\n" +
        $"  max-lag: \"{MaxLag}\"\n" +
        "  passthrough: [\"/static/*\", \"*.png\"]\n" +
        "  always-forward: [\"/session/*\"]\n" +
        "  read-upgrades: [\"/live/*\"]\n" +
        "  read-header-timeout: \"1s\"\n" +
        "  dial-timeout: \"1s\"\n" +
        extra;

    public async Task InitializeAsync()
    {
        _cluster = new Cluster(1, new ClusterOptions
        {
            Proxies = true,
            Primary = new NodeSettings { Yaml = ProxyYaml(PrimaryProxyPort, PrimaryAppPort) },
            Replica = new NodeSettings { Yaml = ProxyYaml(ReplicaProxyPort, ReplicaAppPort) },
        });
        try
        {
            Cluster.Start();
            // The tracked database exists from the start, so every write gets its cookie.
            Sql.Cli(Primary.Path("app.db"), "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, value TEXT);");
            Cluster.WaitCaughtUp("app.db");
            PrimaryApp = await TestApp.StartAsync("primary", Primary.Path("app.db"), PrimaryAppPort);
            ReplicaApp = await TestApp.StartAsync("replica", Replica.Path("app.db"), ReplicaAppPort);
            await WaitForProxyAsync(Cluster, PrimaryProxy);
            await WaitForProxyAsync(Cluster, ReplicaProxy);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Polls the proxy's health endpoint until it answers.</summary>
    public static async Task WaitForProxyAsync(Cluster cluster, string proxyUrl)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Cluster.CatchUpTimeout;
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(proxyUrl + "/litefs/health");
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                cluster.Fail($"the proxy at {proxyUrl} did not answer within {Cluster.CatchUpTimeout.TotalSeconds} s");
            }
            await Task.Delay(100);
        }
    }

    public async Task DisposeAsync()
    {
        if (ReplicaApp is { } replicaApp)
        {
            await replicaApp.DisposeAsync();
        }
        if (PrimaryApp is { } primaryApp)
        {
            await primaryApp.DisposeAsync();
        }
        _cluster?.Dispose();
    }
}
