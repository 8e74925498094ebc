using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using LiteFs.ProxyTestApp;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// The HTTP proxy end to end: <c>litefs mount</c> processes with the proxy in front of a real
/// web application writing to the database in the node's mount.
/// </summary>
[Collection("cluster")]
public sealed class ProxyTests(ProxyCluster fixture) : IClassFixture<ProxyCluster>, IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose() => _http.Dispose();

    private static string Node(HttpResponseMessage response) => response.Headers.TryGetValues("X-App-Node", out var v) ? v.Single() : "(none)";

    private async Task<(long Id, string Cookie, string TxId)> PostRowAsync(string proxy, string value)
    {
        using var response = await _http.PostAsync(proxy + "/rows", new StringContent(value));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}\n{fixture.Cluster.Describe()}");
        Assert.Equal("primary", Node(response));
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.Matches("^__txid=[0-9a-f]{16}; Path=/; Expires=.* GMT; HttpOnly$", cookie);
        var txId = response.Headers.GetValues("Litefs-Txid").Single();
        Assert.Equal(cookie[7..23], txId);
        return (long.Parse(body, System.Globalization.CultureInfo.InvariantCulture), cookie.Split(';')[0], txId);
    }

    [Fact]
    public async Task Post_OnReplica_LandsOnPrimary_AndNextReadOnReplicaSeesIt()
    {
        // The first write also warms up the replica's knowledge of the primary's proxy.
        var (id, cookie, txId) = await PostRowAsync(fixture.ReplicaProxy, "first");
        foreach (var (name, value) in new[] { ("Cookie", cookie), ("Litefs-Txid", txId) })
        {
            using var read = new HttpRequestMessage(HttpMethod.Get, $"{fixture.ReplicaProxy}/rows/{id}");
            read.Headers.Add(name, value);
            using var response = await _http.SendAsync(read);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("replica", Node(response));
            Assert.Equal("first", await response.Content.ReadAsStringAsync());
        }

        // With replication held up, the read waits for the TXID, a read without one does not,
        // and the health check fails once the lag passes max-lag.
        var link = fixture.Cluster.ProxyOf(fixture.Replica);
        link.Stalled = true;
        Task<HttpResponseMessage> pending;
        try
        {
            var second = await PostRowAsync(fixture.ReplicaProxy, "second");
            using var read = new HttpRequestMessage(HttpMethod.Get, $"{fixture.ReplicaProxy}/rows/{second.Id}");
            read.Headers.Add("Cookie", "a=b; " + second.Cookie);
            pending = _http.SendAsync(read);
            var started = Stopwatch.StartNew();
            using (var plain = await _http.GetAsync($"{fixture.ReplicaProxy}/rows/{second.Id}"))
            {
                Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
                Assert.True(started.Elapsed < TimeSpan.FromSeconds(1), $"a read without a cookie took {started.Elapsed}");
            }
            await Task.Delay(300);
            Assert.False(pending.IsCompleted, "the read with the cookie did not wait for its TXID");

            var sawUnhealthy = false;
            while (started.Elapsed < TimeSpan.FromSeconds(4) && !sawUnhealthy)
            {
                using var health = await _http.GetAsync(fixture.ReplicaProxy + "/litefs/health");
                if (health.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    Assert.Equal("Replication lag exceeded\n", await health.Content.ReadAsStringAsync());
                    sawUnhealthy = true;
                }
                await Task.Delay(100);
            }
            Assert.True(sawUnhealthy, "the replica's health check never failed while replication was stalled");
            Assert.False(pending.IsCompleted);
        }
        finally
        {
            link.Stalled = false;
        }
        using (var waited = await pending)
        {
            Assert.Equal(HttpStatusCode.OK, waited.StatusCode);
            Assert.Equal("second", await waited.Content.ReadAsStringAsync());
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        do
        {
            using var health = await _http.GetAsync(fixture.ReplicaProxy + "/litefs/health");
            status = health.StatusCode;
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline && await Task.Delay(100).ContinueWith(_ => true));
        Assert.Equal(HttpStatusCode.OK, status);

        // The replica's /metrics counts what happened.
        var metrics = await _http.GetStringAsync(fixture.Replica.Url + "/metrics");
        Assert.Matches("litefs_proxy_requests_total\\{route=\"forwarded\"\\} [1-9]", metrics);
        Assert.Matches("litefs_proxy_txid_wait_count [1-9]", metrics);
        Assert.Contains("litefs_proxy_txid_wait_seconds ", metrics, StringComparison.Ordinal);
        Assert.Contains("litefs_proxy_error_count{kind=\"forward\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forwarded_Write_CarriesForwardedHeaders()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.ReplicaProxy + "/headers") { Content = new StringContent("") };
        request.Headers.Host = "app.example";
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal("primary", Node(response));
        Assert.Contains("host=app.example", body, StringComparison.Ordinal);
        Assert.Contains("x-forwarded-for=127.0.0.1", body, StringComparison.Ordinal);
        Assert.Contains("x-forwarded-proto=http", body, StringComparison.Ordinal);
        Assert.Contains("x-forwarded-host=app.example", body, StringComparison.Ordinal);
        Assert.Matches("litefs-forwarded-by=[0-9A-F]{16}", body);

        // A read keeps upstream's behaviour: Host as sent, nothing added.
        using var local = new HttpRequestMessage(HttpMethod.Get, fixture.ReplicaProxy + "/headers");
        local.Headers.Host = "app.example";
        using var localResponse = await _http.SendAsync(local);
        var localBody = await localResponse.Content.ReadAsStringAsync();
        Assert.Equal("replica", Node(localResponse));
        Assert.Contains("host=app.example\nx-forwarded-for=\n", localBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LargeBodies_BothWays_Intact()
    {
        var upload = RandomNumberGenerator.GetBytes(5 << 20);
        using (var response = await _http.PostAsync(fixture.ReplicaProxy + "/upload", new StreamContent(new MemoryStream(upload))))
        {
            Assert.Equal("primary", Node(response));
            Assert.Equal($"{upload.Length} {Convert.ToHexStringLower(SHA256.HashData(upload))}", await response.Content.ReadAsStringAsync());
        }
        const long Size = 20 << 20;
        using (var response = await _http.GetAsync($"{fixture.ReplicaProxy}/download?bytes={Size}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal("replica", Node(response));
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[1 << 16];
            long offset = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                for (var i = 0; i < n; i++)
                {
                    Assert.True(buffer[i] == TestApp.Pattern(offset + i), $"byte {offset + i} differs");
                }
                offset += n;
            }
            Assert.Equal(Size, offset);
        }
    }

    [Fact]
    public async Task ServerSentEvents_ArriveOneByOne()
    {
        using var response = await _http.GetAsync(fixture.ReplicaProxy + "/sse?n=4&delayMs=400", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var clock = Stopwatch.StartNew();
        var times = new List<TimeSpan>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                Assert.Equal($"data: {times.Count}", line);
                times.Add(clock.Elapsed);
            }
        }
        Assert.Equal(4, times.Count);
        // Each event came on its own, about 400 ms apart, not all at the end.
        Assert.True(times[3] - times[0] > TimeSpan.FromMilliseconds(900), string.Join(", ", times));
    }

    [Fact]
    public async Task WebSocket_OnReplica_EchoedByPrimary_OrLocallyForReadUpgrades()
    {
        foreach (var (path, expected) in new[] { ("/ws", "primary:hello"), ("/live/ws", "replica:hello") })
        {
            using var ws = new ClientWebSocket();
            ws.Options.Proxy = null;
            await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{fixture.ReplicaProxyPort}{path}"), CancellationToken.None);
            for (var i = 0; i < 3; i++)
            {
                await ws.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
                var buffer = new byte[256];
                var result = await ws.ReceiveAsync(buffer, CancellationToken.None);
                Assert.Equal(expected, Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }
    }

    [Fact]
    public async Task Http2_ThroughReplica_ReadsAndForwardedWrites()
    {
        using var h2 = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var read = await h2.GetAsync(fixture.ReplicaProxy + "/node");
        Assert.Equal(HttpVersion.Version20, read.Version);
        Assert.Equal("replica", await read.Content.ReadAsStringAsync());
        using var write = await h2.PostAsync(fixture.ReplicaProxy + "/rows", new StringContent("h2"));
        Assert.Equal(HttpVersion.Version20, write.Version);
        Assert.Equal("primary", Node(write));
        Assert.True(write.Headers.Contains("Set-Cookie"));
    }

    [Theory]
    [InlineData("POST", "/static/app.js", "replica", false)]
    [InlineData("DELETE", "/img/logo.png", "replica", false)]
    [InlineData("GET", "/session/new", "primary", false)]
    [InlineData("HEAD", "/session/new", "primary", false)]
    [InlineData("GET", "/sessions", "replica", false)]
    [InlineData("PUT", "/sessions", "primary", true)]
    public async Task Patterns_OnReplica_RouteAsSpec(string method, string path, string servedBy, bool cookie)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), fixture.ReplicaProxy + path);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(servedBy, Node(response));
        Assert.Equal(cookie, response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task BadInput_ClearAnswers_NodeKeepsServing()
    {
        // Malformed cookies: served at once.
        foreach (var cookie in new[] { "__txid=zzzz", "__txid=", "__txid=\"00\"", ";;;", "__txid=ffffffffffffffffff" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, fixture.ReplicaProxy + "/node");
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
            var started = Stopwatch.StartNew();
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(2));
        }

        // Huge headers: 431.
        Assert.StartsWith("HTTP/1.1 431", await RawAsync(fixture.ReplicaProxyPort, "GET /node HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('a', 2 << 20) + "\r\n\r\n"), StringComparison.Ordinal);

        // A client that goes away in the middle of a forwarded body.
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, fixture.ReplicaProxyPort);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\n"));
            await stream.WriteAsync(new byte[100_000]);
            await Task.Delay(200);
            client.Client.LingerState = new LingerOption(true, 0);
        }

        // A slowloris: headers never finished, connection closed after read-header-timeout (1 s).
        using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(IPAddress.Loopback, fixture.ReplicaProxyPort);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /node HTTP/1.1\r\nHost: a\r\n"));
            var started = Stopwatch.StartNew();
            var buffer = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
            Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
        }

        // Still serving reads and forwarded writes.
        using var after = await _http.GetAsync(fixture.ReplicaProxy + "/node");
        Assert.Equal("replica", await after.Content.ReadAsStringAsync());
        await PostRowAsync(fixture.ReplicaProxy, "after");
    }

    [Fact]
    public async Task AppDown_502_ThenBackUp()
    {
        await fixture.ReplicaApp!.DisposeAsync();
        fixture.ReplicaApp = null;
        try
        {
            var started = Stopwatch.StartNew();
            using var response = await _http.GetAsync(fixture.ReplicaProxy + "/node");
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.StartsWith("Proxy error: ", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(5)); // dial-timeout: 1s
        }
        finally
        {
            fixture.ReplicaApp = await TestApp.StartAsync("replica", fixture.Replica.Path("app.db"), fixture.ReplicaAppPort);
        }
        using var ok = await _http.GetAsync(fixture.ReplicaProxy + "/node");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task NoPrimary_503WithinRedirectTimeout_ThenFlyReplayAsUpstream()
    {
        var proxyPort = FreePort.Next();
        var appPort = FreePort.Next();
        using var cluster = new Cluster(1, new ClusterOptions
        {
            Replica = new NodeSettings
            {
                Yaml = "skip-sync: true\n" + ProxyCluster.ProxyYaml(proxyPort, appPort, "  primary-redirect-timeout: \"1s\"\n  forward-mode: \"fly-replay\"\n"),
            },
        });
        var replica = cluster.Replicas[0];
        replica.Start();
        var proxy = $"http://127.0.0.1:{proxyPort}";
        await ProxyCluster.WaitForProxyAsync(cluster, proxy);
        var started = Stopwatch.StartNew();
        using (var response = await _http.PostAsync(proxy + "/rows", new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("Proxy error: no primary available\n", await response.Content.ReadAsStringAsync());
        }
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(3));

        cluster.Primary.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE t (x);");
        cluster.WaitCaughtUp("app.db");
        var raw = await RawAsync(proxyPort, "POST /rows HTTP/1.1\r\nHost: app\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
        var head = raw.Split("\r\n\r\n")[0].Split("\r\n");
        Assert.Equal("HTTP/1.1 200 OK", head[0]);
        Assert.Equal(["Content-Length: 0", "Fly-Replay: instance=primary"],
            head.Skip(1).Where(h => !h.StartsWith("Date:", StringComparison.Ordinal) && !h.StartsWith("Connection:", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.EndsWith("\r\n\r\n", raw, StringComparison.Ordinal);
    }

    private static async Task<string> RawAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        }
        catch (IOException)
        {
            // The server may answer and close before reading it all.
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
                if (text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && text.ToString().Contains("Content-Length: 0", StringComparison.Ordinal))
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
}
