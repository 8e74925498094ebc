using System.Net;
using System.Text.RegularExpressions;
using LiteFs.Core;
using LiteFs.Core.Replication;
using LiteFs.TestKit;

namespace LiteFs.Http.Tests;

/// <summary>The endpoints' checks and bodies beyond the upstream captures.</summary>
public partial class EndpointTests
{
    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> SendAsync(NodeFixture node, HttpMethod method, string path, string? litefsId = null, byte[]? body = null, Version? version = null)
    {
        using var http = H2c.NewClient(version);
        var request = H2c.Request(method, node.Url + path, version);
        if (litefsId is not null)
        {
            request.Headers.Add("Litefs-Id", litefsId);
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }
        var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Theory]
    [InlineData("GET", "/stream", HttpStatusCode.MethodNotAllowed, "method not allowed\n")]
    [InlineData("HEAD", "/info", HttpStatusCode.MethodNotAllowed, "")]
    [InlineData("PUT", "/halt", HttpStatusCode.MethodNotAllowed, "method not allowed\n")]
    [InlineData("GET", "/info/", HttpStatusCode.NotFound, "404 page not found\n")]
    [InlineData("GET", "/", HttpStatusCode.NotFound, "404 page not found\n")]
    [InlineData("POST", "/halt?name=wal4096.db", HttpStatusCode.BadRequest, "invalid id: \"\"\n")]
    [InlineData("POST", "/halt?name=wal4096.db&id=%22x%0A", HttpStatusCode.BadRequest, "invalid id: \"\\\"x\\n\"\n")]
    [InlineData("DELETE", "/halt?name=wal4096.db&id=7", HttpStatusCode.OK, "")]
    [InlineData("DELETE", "/halt?name=nope.db&id=7", HttpStatusCode.OK, "")]
    [InlineData("POST", "/halt?name=wal4096.db&id=0", HttpStatusCode.InternalServerError, "acquire halt lock: halt lock id required\n")]
    [InlineData("POST", "/tx?name=wal4096.db&lockID=7", HttpStatusCode.Conflict, "no halt lock is held on \"wal4096.db\" by this node under lock id \"7\"\n")]
    [InlineData("POST", "/handoff?nodeID=0x12", HttpStatusCode.BadRequest, "invalid node id\n")]
    [InlineData("POST", "/import?name=x.db", HttpStatusCode.BadRequest, "cannot import x.db: not a SQLite database (no \"SQLite format 3\" header); nothing was replaced\n")]
    [InlineData("GET", "/export?name=", HttpStatusCode.BadRequest, "name required\n")]
    public async Task Endpoint_OnPrimary_Answers(string method, string path, HttpStatusCode status, string body)
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var (actualStatus, actualBody, response) = await SendAsync(node, new HttpMethod(method), path, "1234567890ABCDEF", version: HttpVersion.Version11);
        using (response)
        {
            Assert.Equal(status, actualStatus);
            Assert.Equal(body, actualBody);
            Assert.Equal(node.Store.NodeIdText, response.Headers.GetValues("Litefs-Id").Single());
        }
    }

    [Theory]
    [InlineData("POST", "/promote", HttpStatusCode.Conflict, "not eligible to become primary\n")]
    [InlineData("POST", "/import?name=x.db", HttpStatusCode.ServiceUnavailable, "lease expired: cannot reach the primary at http://127.0.0.1:1 to import there: POST /import: Connection refused (127.0.0.1:1)\n")]
    [InlineData("POST", "/handoff?nodeID=1", HttpStatusCode.InternalServerError, "cannot handoff: node is not currently primary\n")]
    [InlineData("GET", "/export?name=nope.db", HttpStatusCode.NotFound, "database not found\n")]
    public async Task Endpoint_OnReplica_Answers(string method, string path, HttpStatusCode status, string body)
    {
        await using var node = await NodeFixture.StartAsync(primary: false);
        var (actualStatus, actualBody, response) = await SendAsync(node, new HttpMethod(method), path);
        response.Dispose();
        Assert.Equal(status, actualStatus);
        Assert.Equal(body, actualBody);
    }

    [Theory]
    [InlineData("lower")]
    [InlineData("upper")]
    [InlineData("short")]
    public async Task Stream_OwnIdInAnyHexForm_CannotConnectToSelf(string form)
    {
        await using var node = await NodeFixture.StartAsync();
        var id = form switch
        {
            "lower" => node.Store.NodeIdText.ToLowerInvariant(),
            "upper" => node.Store.NodeIdText,
            _ => node.Store.NodeId.ToString("x", System.Globalization.CultureInfo.InvariantCulture),
        };
        var (status, body, response) = await SendAsync(node, HttpMethod.Post, "/stream", id, [0, 0, 0, 0]);
        response.Dispose();
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("cannot connect to self\n", body);
    }

    [Fact]
    public async Task Debug_NotFoundWithoutNodeHeaders()
    {
        await using var node = await NodeFixture.StartAsync();
        var (status, _, response) = await SendAsync(node, HttpMethod.Get, "/debug/pprof/heap");
        using (response)
        {
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.False(response.Headers.Contains("Litefs-Id"));
        }
    }

    [Fact]
    public async Task Metrics_LiteFsSeries_AsUpstreamWritesThem()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var (status, body, response) = await SendAsync(node, HttpMethod.Get, "/metrics");
        using (response)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            Assert.False(response.Headers.Contains("Litefs-Id"));
        }
        var golden = File.ReadAllLines(NodeFixture.Golden("stream", "api", "metrics.body.txt"));
        // Series whose values are the same here: the golden primary had 7 files at TXID 7, this one 6 at TXID 6.
        foreach (var line in new[] { "litefs_db_count 1", "litefs_is_primary 1", "litefs_lag_seconds 0", "litefs_subscriber_count 0", "litefs_http_stream_count 0" })
        {
            Assert.Contains(line, golden);
            Assert.Contains(line, body.Split('\n'));
        }
        foreach (var name in new[] { "litefs_db_count", "litefs_db_txid", "litefs_db_ltx_count", "litefs_db_ltx_bytes", "litefs_is_primary", "litefs_lag_seconds", "litefs_subscriber_count", "litefs_http_stream_count" })
        {
            var help = golden.First(l => l.StartsWith($"# HELP {name} ", StringComparison.Ordinal));
            Assert.Contains(help, body.Split('\n'));
            Assert.Contains(golden.First(l => l.StartsWith($"# TYPE {name} ", StringComparison.Ordinal)), body.Split('\n'));
        }
        Assert.Contains("litefs_db_txid{db=\"wal4096.db\"} 6", body.Split('\n'));
        Assert.Contains("litefs_db_ltx_count{db=\"wal4096.db\"} 6", body.Split('\n'));
    }

    [Fact]
    public async Task InfoAndMetrics_ReplicaWhoseReplicationKeepsFailing_SayUnhealthyAndWhy()
    {
        await using var node = await NodeFixture.StartAsync(primary: false);
        var (_, healthyInfo, healthyResponse) = await SendAsync(node, HttpMethod.Get, "/info");
        healthyResponse.Dispose();
        Assert.DoesNotContain("healthy", healthyInfo, StringComparison.Ordinal);
        var (_, healthyMetrics, healthyMetricsResponse) = await SendAsync(node, HttpMethod.Get, "/metrics");
        healthyMetricsResponse.Dispose();
        Assert.Contains("litefs_healthy 1", healthyMetrics.Split('\n'));

        node.Store.ReportReplicationFailure("3 attempts in a row to follow http://primary failed");
        var (_, info, infoResponse) = await SendAsync(node, HttpMethod.Get, "/info");
        infoResponse.Dispose();
        Assert.Contains("\"healthy\": false,", info, StringComparison.Ordinal);
        Assert.Contains("\"replicationError\": \"3 attempts in a row to follow http://primary failed\"", info, StringComparison.Ordinal);
        var (_, metrics, metricsResponse) = await SendAsync(node, HttpMethod.Get, "/metrics");
        metricsResponse.Dispose();
        Assert.Contains("litefs_healthy 0", metrics.Split('\n'));

        node.Store.ClearReplicationFailure();
        var (_, again, againResponse) = await SendAsync(node, HttpMethod.Get, "/info");
        againResponse.Dispose();
        Assert.DoesNotContain("healthy", again, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_ReplicaApplyingSnapshot_TxEventAfterInit()
    {
        await using var primary = await NodeFixture.StartAsync(goldenDb: true);
        await using var replica = await NodeFixture.StartAsync(primary: false, clusterId: null);
        using var http = H2c.NewClient();
        using var response = await http.SendAsync(H2c.Request(HttpMethod.Get, replica.Url + "/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        Assert.Equal("{\"type\":\"init\",\"data\":{\"isPrimary\":false,\"hostname\":\"primary\"}}", await reader.ReadLineAsync(timeout.Token));
        // The fixture's lease names an unreachable primary; follow the real one instead.
        using var stream = await replica.Client.OpenStreamAsync(primary.Url, replica.Store.NodeId, replica.Store.Positions(), [], timeout.Token);
        replica.Store.CheckClusterId(stream.ClusterId);
        var frames = new StreamFrameReader(stream.Body);
        var frame = await Task.Run(frames.Read, timeout.Token);
        Assert.Equal(StreamFrameType.Ltx, frame?.Type);
        replica.Store.GetOrCreate(frame!.Value.Name).ReceiveLtx(frames.Payload!, timeout.Token);
        var line = await reader.ReadLineAsync(timeout.Token);
        Assert.Matches(TxEventPattern(), line);
    }

    [GeneratedRegex("""^\{"type":"tx","db":"wal4096\.db","data":\{"txID":"0000000000000006","postApplyChecksum":"ff47ac2266e33f3f","pageSize":4096,"commit":2,"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z"\}\}$""")]
    private static partial Regex TxEventPattern();

    [Theory]
    [InlineData(1795488426309, "2026-11-24T02:47:06.309Z")]
    [InlineData(1795488426300, "2026-11-24T02:47:06.3Z")]
    [InlineData(1795488426000, "2026-11-24T02:47:06Z")]
    public void FormatTimestamp_TrimsTrailingZeros(long ms, string text) => Assert.Equal(text, NodeServer.FormatTimestamp(ms));

    [Theory]
    [InlineData(0, "0")]
    [InlineData(7, "7")]
    [InlineData(1645, "1645")]
    [InlineData(123456, "123456")]
    [InlineData(1540576, "1.540576e+06")]
    [InlineData(1000000, "1e+06")]
    [InlineData(0.552, "0.552")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001793, "1.793e-05")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(8.396616e+06, "8.396616e+06")]
    public void PrometheusValue_FormattedAsGo(double value, string text) => Assert.Equal(text, PrometheusText.FormatValue(value));

    [Theory]
    [InlineData("abc", "\"abc\"")]
    [InlineData("a\"b\\c", "\"a\\\"b\\\\c\"")]
    [InlineData("tab\there", "\"tab\\there\"")]
    [InlineData("\u0001", "\"\\x01\"")]
    [InlineData("ünï", "\"ünï\"")]
    public void GoQuote_AsStrconvQuote(string value, string quoted) => Assert.Equal(quoted, HttpErrors.GoQuote(value));
}
