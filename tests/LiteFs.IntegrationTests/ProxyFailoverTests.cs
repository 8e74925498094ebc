using System.Diagnostics;
using System.Globalization;
using System.Net;
using LiteFs.ProxyTestApp;
using LiteFs.TestKit;
using Xunit.Abstractions;

namespace LiteFs.IntegrationTests;

/// <summary>
/// The HTTP proxy while the primary moves: three candidates on a real etcd lease, each with the
/// proxy in front of its own <see cref="TestApp"/>. When the primary is killed, writes sent to the
/// other nodes' proxies reach whichever node takes the lease, with no restart of anything.
/// </summary>
[Collection("cluster")]
public sealed class ProxyFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RedirectTimeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly TempDir _root = new("litefs-proxy-failover");
    private readonly EtcdServer _etcd = EtcdServer.Start();
    private readonly Dictionary<string, Member> _members = [];
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };

    private sealed record Member(string Name, NodeProcess Node, int ProxyPort, int AppPort)
    {
        public TestApp? App { get; set; }

        public string Proxy => $"http://127.0.0.1:{ProxyPort}";

        public string Db => Path.Combine(Node.MountPoint, "app.db");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var member in _members.Values)
        {
            if (member.App is { } app)
            {
                await app.DisposeAsync();
            }
            member.Node.Dispose();
        }
        _http.Dispose();
        _etcd.Dispose();
        _root.Dispose();
    }

    private Member Add(string name)
    {
        Directory.CreateDirectory(_root.Combine(name));
        var node = new NodeProcess(_root.Combine(name));
        var member = new Member(name, node, FreePort.Next(), FreePort.Next());
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
                key: "/litefs/proxy-failover/primary"
                ttl: "{Ttl.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
            proxy:
              addr: "127.0.0.1:{member.ProxyPort}"
              target: "127.0.0.1:{member.AppPort}"
              db: "app.db"
              primary-redirect-timeout: "{RedirectTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
              dial-timeout: "1s"
            """);
        _members.Add(name, member);
        return member;
    }

    private async Task StartAsync(Member member, string readyLine)
    {
        member.Node.Start();
        member.Node.Process.WaitForOutput(readyLine, Patience);
        member.App = await TestApp.StartAsync(member.Name, member.Db, member.AppPort);
        var until = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                using var health = await _http.GetAsync(member.Proxy + "/litefs/health");
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>POSTs a row to a proxy; returns the node whose application wrote it, the row's ID and the TXID cookie.</summary>
    private async Task<(string Node, long Id, string Cookie, TimeSpan Took)> PostAsync(Member to, string value)
    {
        var clock = Stopwatch.StartNew();
        using var response = await _http.PostAsync(to.Proxy + "/rows", new StringContent(value));
        var took = clock.Elapsed;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST to {to.Name}'s proxy after {took}: {(int)response.StatusCode} {body}\n{Logs()}");
        var node = response.Headers.GetValues("X-App-Node").Single();
        var cookie = response.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        return (node, long.Parse(body, CultureInfo.InvariantCulture), cookie, took);
    }

    private async Task<string> ReadAsync(Member on, long id, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{on.Proxy}/rows/{id}");
        request.Headers.Add("Cookie", cookie);
        using var response = await _http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET row {id} on {on.Name}: {(int)response.StatusCode}\n{Logs()}");
        Assert.Equal(on.Name, response.Headers.GetValues("X-App-Node").Single());
        return await response.Content.ReadAsStringAsync();
    }

    private string Logs() => string.Join("\n", _members.Values.Select(m =>
        $"--- {m.Name}\n{(m.Node.Process.Stdout.Length > 4000 ? m.Node.Process.Stdout[^4000..] : m.Node.Process.Stdout)}"));

    [Fact]
    public async Task PrimaryKilled_WritesToEveryProxy_ReachTheNewPrimary()
    {
        var a = Add("node-a");
        var b = Add("node-b");
        var c = Add("node-c");
        a.Node.Start();
        a.Node.Process.WaitForOutput("primary lease acquired", Patience);
        Sql.Cli(a.Db, "CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT);");
        a.App = await TestApp.StartAsync(a.Name, a.Db, a.AppPort);
        await Task.WhenAll(StartAsync(b, "node ready"), StartAsync(c, "node ready"));

        // Before: both replicas forward to a.
        Assert.Equal("node-a", (await PostAsync(b, "before b")).Node);
        var before = await PostAsync(c, "before c");
        Assert.Equal("node-a", before.Node);
        Assert.Equal("before c", await ReadAsync(b, before.Id, before.Cookie));

        // The primary dies. Writes sent at once to both survivors wait for a new primary (the
        // lease expires after its TTL) and then reach it, whichever of the two it is, within the
        // redirect timeout (longer than the TTL here, so the whole failover fits in it).
        a.Node.Kill();
        await a.App!.DisposeAsync();
        a.App = null;
        var during = await Task.WhenAll(PostAsync(b, "during b"), PostAsync(c, "during c"));
        var primary = during[0].Node;
        Assert.Contains(primary, new[] { "node-b", "node-c" });
        Assert.Equal(primary, during[1].Node);
        Assert.Contains("primary lease acquired", _members[primary].Node.Process.Stdout, StringComparison.Ordinal);
        var replica = primary == "node-b" ? c : b;
        Assert.DoesNotContain("primary lease acquired", replica.Node.Process.Stdout, StringComparison.Ordinal);
        foreach (var write in during)
        {
            output.WriteLine($"write during the failover: {write.Took.TotalMilliseconds:F0} ms");
            Assert.True(write.Took < RedirectTimeout,
                $"a write took {write.Took} during the failover\n{Logs()}");
        }

        // After: the remaining replica follows the new primary without a restart; its writes are
        // forwarded there, and its reads see them once replicated.
        foreach (var member in new[] { b, c })
        {
            var after = await PostAsync(member, "after " + member.Name);
            Assert.Equal(primary, after.Node);
            output.WriteLine($"write to {member.Name} after the failover: {after.Took.TotalMilliseconds:F0} ms");
            Assert.True(after.Took < RedirectTimeout, $"a write took {after.Took} after the failover");
            Assert.Equal("after " + member.Name, await ReadAsync(replica, after.Id, after.Cookie));
        }
    }
}
