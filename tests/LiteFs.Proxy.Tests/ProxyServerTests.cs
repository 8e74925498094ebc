using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using LiteFs.Core;
using LiteFs.ProxyTestApp;
using LiteFs.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LiteFs.Proxy.Tests;

/// <summary>
/// A <see cref="ProxyServer"/> over a real store (no mount) and a real application on loopback:
/// the answers the proxy makes itself, byte for byte where upstream's are fixed.
/// </summary>
public sealed class ProxyServerTests : IAsyncLifetime
{
    private readonly TempDir _dir = new("litefs-proxy");
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _http.Dispose();
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
        _dir.Dispose();
    }

    private async Task<(Store Store, ProxyServer Proxy, string Url)> StartAsync(bool primary, ProxyOptions? options = null, bool withApp = true, string primaryApi = "http://127.0.0.1:1")
    {
        var store = new Store(new StoreOptions
        {
            DataDir = _dir.Combine(primary ? "primary" : "replica", "data"),
            Lease = new StaticLease(primary, "primary", primaryApi),
        });
        store.Open();
        _owned.Add(new DisposeAdapter(store));
        var appPort = FreePort.Next();
        if (withApp)
        {
            _owned.Add(await TestApp.StartAsync("app", _dir.Combine("app.db"), appPort));
        }
        var proxy = new ProxyServer(store, (options ?? new ProxyOptions()) with { Address = "127.0.0.1:0", Target = $"127.0.0.1:{appPort}", Db = "app.db" });
        await proxy.StartAsync();
        _owned.Add(proxy);
        return (store, proxy, $"http://127.0.0.1:{proxy.EndPoint!.Port}");
    }

    [Fact]
    public async Task Health_PrimaryAndFreshReplica_Ok()
    {
        var (_, _, url) = await StartAsync(primary: true);
        using var response = await _http.GetAsync(url + "/litefs/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OK\n", await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Health_ReplicaFailingToFollow_Unavailable_UntilItRecovers()
    {
        var (store, _, url) = await StartAsync(primary: false);
        store.ReportReplicationFailure("the primary sent \"invalid\" where a frame was expected");
        using (var failing = await _http.GetAsync(url + "/litefs/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failing.StatusCode);
            Assert.Equal("Replication failing: the primary sent \"invalid\" where a frame was expected\n", await failing.Content.ReadAsStringAsync());
        }
        store.ClearReplicationFailure();
        using var recovered = await _http.GetAsync(url + "/litefs/health");
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }

    [Fact]
    public async Task Write_OnPrimary_ReachesAppAndSetsCookieAndHeader()
    {
        var (store, proxy, url) = await StartAsync(primary: true);
        store.GetOrCreate("app.db");
        using var response = await _http.PostAsync(url + "/echo", new StringContent("x"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("app POST /echo", await response.Content.ReadAsStringAsync());
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.Matches(@"^__txid=0000000000000000; Path=/; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; HttpOnly$", cookie);
        Assert.Equal("0000000000000000", response.Headers.GetValues("Litefs-Txid").Single());

        // GET, HEAD, always-forward GET and passthrough get no cookie.
        using var get = await _http.GetAsync(url + "/echo");
        Assert.False(get.Headers.Contains("Set-Cookie"));
        Assert.Equal(1, proxy.Metrics.Collect().Count(f => f.Name == "litefs_proxy_requests_total"));
    }

    [Fact]
    public async Task Write_WithoutTrackedDatabase_NoCookie()
    {
        var (_, _, url) = await StartAsync(primary: true);
        using var response = await _http.PostAsync(url + "/echo", new StringContent("x"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Passthrough_WriteOnReplica_GoesToLocalAppWithoutCookie()
    {
        var (store, _, url) = await StartAsync(primary: false, new ProxyOptions { Passthrough = ["/static/*"], PrimaryRedirectTimeout = TimeSpan.FromMilliseconds(100) });
        store.GetOrCreate("app.db");
        using var response = await _http.PostAsync(url + "/static/x", new StringContent("x"));
        Assert.Equal("app POST /static/x", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Read_CookieAhead_504AfterFiveSeconds_WithoutCookieAtOnce()
    {
        var (store, proxy, url) = await StartAsync(primary: true);
        store.GetOrCreate("app.db");
        var started = DateTime.UtcNow;
        using var request = new HttpRequestMessage(HttpMethod.Get, url + "/x");
        request.Headers.Add("Cookie", "__txid=0000000000000005");
        using var response = await _http.SendAsync(request);
        var waited = DateTime.UtcNow - started;
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("Proxy timeout\n", await response.Content.ReadAsStringAsync());
        Assert.InRange(waited, TimeSpan.FromSeconds(4.9), TimeSpan.FromSeconds(8));
        Assert.Contains(proxy.Metrics.Collect(), f => f.Name == "litefs_proxy_txid_timeout_count" && f.Samples[0].Value == 1);

        // Malformed and zero cookies, and a database at or past the TXID: no wait.
        foreach (var cookie in new[] { "__txid=garbage", "__txid=0000000000000000", "__txid=", "__txid=\"\"; x", "=;;==", "__txid=00000000000000000000" })
        {
            started = DateTime.UtcNow;
            using var plain = new HttpRequestMessage(HttpMethod.Get, url + "/x");
            plain.Headers.TryAddWithoutValidation("Cookie", cookie);
            using var ok = await _http.SendAsync(plain);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), cookie);
        }
    }

    [Fact]
    public async Task Write_ReplicaWithoutPrimary_503AfterRedirectTimeout()
    {
        var (_, proxy, url) = await StartAsync(primary: false, new ProxyOptions { PrimaryRedirectTimeout = TimeSpan.FromMilliseconds(300) });
        var started = DateTime.UtcNow;
        using var response = await _http.PostAsync(url + "/x", new StringContent("x"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Proxy error: no primary available\n", await response.Content.ReadAsStringAsync());
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(290), TimeSpan.FromSeconds(3));
        Assert.Contains(proxy.Metrics.Collect(), f => f.Name == "litefs_proxy_error_count" && f.Samples.Any(s => s.Labels[0].Value == "no_primary" && s.Value == 1));
    }

    [Fact]
    public async Task Write_ReplicaFlyReplay_UpstreamGoldenResponse()
    {
        var (store, _, url) = await StartAsync(primary: false, new ProxyOptions { ForwardMode = ForwardMode.FlyReplay });
        store.ConnectedPrimaryHostname = "primary";
        var raw = await RawAsync(url, "POST /rows HTTP/1.1\r\nHost: app\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
        var head = raw.Split("\r\n\r\n")[0].Split("\r\n");
        Assert.Equal("HTTP/1.1 200 OK", head[0]);
        var headers = head.Skip(1).Where(h => !h.StartsWith("Date:", StringComparison.Ordinal) && !h.StartsWith("Connection:", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["Content-Length: 0", "Fly-Replay: instance=primary"], headers);
        Assert.EndsWith("\r\n\r\n", raw, StringComparison.Ordinal);
    }

    /// <summary>A stand-in for the primary's node API: its <c>/info</c> names <paramref name="proxyUrl"/> as its proxy.</summary>
    private async Task<string> PrimaryInfoAsync(string proxyUrl)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapGet("/info", () => Results.Text($"{{\"name\":\"primary\",\"proxyURL\":\"{proxyUrl}\"}}", "application/json"));
        await app.StartAsync();
        _owned.Add(app);
        return $"http://127.0.0.1:{port}";
    }

    [Fact]
    public async Task Write_PrimaryProxyNotListeningYet_RetriedWithinRedirectTimeout()
    {
        var primaryProxyPort = FreePort.Next();
        var primaryApi = await PrimaryInfoAsync($"http://127.0.0.1:{primaryProxyPort}");
        var (store, proxy, url) = await StartAsync(primary: false, primaryApi: primaryApi);
        store.ConnectedPrimaryHostname = "primary";
        var body = RandomNumberGenerator.GetBytes(300_000);
        var pending = _http.PostAsync(url + "/upload", new ByteArrayContent(body));
        await Task.Delay(500);
        Assert.False(pending.IsCompleted, "the write did not wait for the primary's proxy");
        _owned.Add(await TestApp.StartAsync("primary", _dir.Combine("primary.db"), primaryProxyPort));
        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("primary", response.Headers.GetValues("X-App-Node").Single());
        Assert.Equal($"{body.Length} {Convert.ToHexStringLower(SHA256.HashData(body))}", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, proxy.Metrics.Forwarded);
    }

    [Fact]
    public async Task Write_PrimaryProxyNeverListening_502AfterRedirectTimeout()
    {
        var primaryApi = await PrimaryInfoAsync($"http://127.0.0.1:{FreePort.Next()}");
        var (store, _, url) = await StartAsync(primary: false, new ProxyOptions { PrimaryRedirectTimeout = TimeSpan.FromMilliseconds(600) }, primaryApi: primaryApi);
        store.ConnectedPrimaryHostname = "primary";
        var started = DateTime.UtcNow;
        using var response = await _http.PostAsync(url + "/rows", new StringContent("x"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("Proxy error: Connection refused\n", await response.Content.ReadAsStringAsync());
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Write_ForwardedToReplica_503NotForwardedAgain()
    {
        var (store, proxy, url) = await StartAsync(primary: false);
        store.ConnectedPrimaryHostname = "primary";
        using var request = new HttpRequestMessage(HttpMethod.Post, url + "/rows") { Content = new StringContent("x") };
        request.Headers.Add("Litefs-Forwarded-By", "0000000000000001");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Proxy error: forwarded write reached a node that is not the primary\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, proxy.Metrics.Forwarded);
    }

    [Fact]
    public async Task AppDown_502WithProxyError()
    {
        var (_, proxy, url) = await StartAsync(primary: true, new ProxyOptions { DialTimeout = TimeSpan.FromMilliseconds(500) }, withApp: false);
        var started = DateTime.UtcNow;
        using var response = await _http.GetAsync(url + "/x");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.StartsWith("Proxy error: ", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        // Refused connections are retried for the dial timeout (the application may be starting).
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(5));
        Assert.Contains(proxy.Metrics.Collect(), f => f.Name == "litefs_proxy_error_count" && f.Samples.Any(s => s.Labels[0].Value == "upstream" && s.Value == 1));
    }

    [Fact]
    public async Task AppStartingLate_RequestWaitsForIt()
    {
        var appPort = FreePort.Next();
        var store = new Store(new StoreOptions { DataDir = _dir.Combine("late", "data"), Lease = new StaticLease(true, "primary", "") });
        store.Open();
        _owned.Add(new DisposeAdapter(store));
        var proxy = new ProxyServer(store, new ProxyOptions { Address = "127.0.0.1:0", Target = $"127.0.0.1:{appPort}", Db = "app.db" });
        await proxy.StartAsync();
        _owned.Add(proxy);
        var pending = _http.GetAsync($"http://127.0.0.1:{proxy.EndPoint!.Port}/late");
        await Task.Delay(700);
        Assert.False(pending.IsCompleted);
        _owned.Add(await TestApp.StartAsync("app", _dir.Combine("late.db"), appPort));
        using var response = await pending;
        Assert.Equal("app GET /late", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HugeHeaders_431_ThenStillServing()
    {
        var (_, _, url) = await StartAsync(primary: true);
        var raw = await RawAsync(url, "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', 2 << 20) + "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 431", raw, StringComparison.Ordinal);
        using var ok = await _http.GetAsync(url + "/x");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task SlowHeaders_ConnectionClosedAfterReadHeaderTimeout()
    {
        var (_, _, url) = await StartAsync(primary: true, new ProxyOptions { ReadHeaderTimeout = TimeSpan.FromSeconds(1) });
        var uri = new Uri(url);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, uri.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /x HTTP/1.1\r\nHost: a\r\n"));
        var started = DateTime.UtcNow;
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }
        catch (SocketException)
        {
            // reset: closed as well
        }
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
        Assert.True(text.Length == 0 || text.ToString().StartsWith("HTTP/1.1 408", StringComparison.Ordinal), text.ToString());
        using var ok = await _http.GetAsync(url + "/x");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    private static async Task<string> RawAsync(string url, string request)
    {
        var uri = new Uri(url);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, uri.Port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        }
        catch (IOException)
        {
            // The server may answer and close before reading everything.
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
                var s = text.ToString();
                var end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end >= 0 && s.Contains("Content-Length: 0", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        catch (IOException) when (text.Length > 0)
        {
        }
        return text.ToString();
    }

    private sealed class DisposeAdapter(IDisposable inner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            inner.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
