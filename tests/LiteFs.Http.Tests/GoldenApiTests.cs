using System.Net;
using System.Text;

namespace LiteFs.Http.Tests;

/// <summary>
/// The API captures of upstream v0.5.14 (stream/api, stream/f–i, mount-files/replica) replayed
/// against this server: status line, body and headers must match byte for byte, except the
/// Date header, the node ID (random per process) and the order of the header lines (Go sorts
/// them, Kestrel writes its own order; HTTP gives the order no meaning).
/// </summary>
public class GoldenApiTests
{
    [Theory]
    [InlineData("not-found")]
    [InlineData("halt-wrong-method")]
    [InlineData("halt-invalid-id")]
    [InlineData("halt-self")]
    [InlineData("unhalt-invalid-id")]
    [InlineData("tx-unknown-db")]
    [InlineData("export-no-name")]
    [InlineData("export-unknown-db")]
    [InlineData("import-no-name")]
    [InlineData("handoff-invalid-node-id")]
    [InlineData("handoff-not-connected")]
    [InlineData("promote-on-primary")]
    public async Task ApiCapture_Http1_MatchesUpstream(string capture)
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var request = File.ReadAllBytes(NodeFixture.Golden("stream", "api", capture + ".request.http"));
        // The "self" captures send the primary's own ID.
        request = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(request).Replace(NodeFixture.GoldenPrimaryId, node.Store.NodeIdText, StringComparison.Ordinal));
        var expected = RawHttp.Parse(File.ReadAllBytes(NodeFixture.Golden("stream", "api", capture + ".response.http")));
        var actual = RawHttp.Parse(await RawHttp.ExchangeAsync(node.Server.Port, request));
        AssertSameResponse(expected, actual, node.Store.NodeIdText);
    }

    [Fact]
    public async Task Info_Http1_MatchesUpstreamWithPathRedacted()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var request = File.ReadAllBytes(NodeFixture.Golden("stream", "api", "info.request.http"));
        var expected = RawHttp.Parse(File.ReadAllBytes(NodeFixture.Golden("stream", "api", "info.response.http")));
        var actual = RawHttp.Parse(await RawHttp.ExchangeAsync(node.Server.Port, request));
        var body = Encoding.UTF8.GetString(actual.Body);
        Assert.Equal(actual.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), actual.Header("Content-Length"));
        // The capture's path was redacted the same way (and its Content-Length adjusted).
        var redacted = Encoding.UTF8.GetBytes(body.Replace($"\"path\": \"{node.Store.DataDir}\"", "\"path\": \"<data directory>\"", StringComparison.Ordinal));
        var headers = actual.Headers.Select(h => h.Key == "Content-Length" ? new KeyValuePair<string, string>(h.Key, redacted.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)) : h).ToList();
        AssertSameResponse(expected, actual with { Body = redacted, Headers = headers }, node.Store.NodeIdText);
    }

    [Fact]
    public async Task Stream_Http1_Is426AsUpstream()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var dir = NodeFixture.Golden("stream", "f-http1-upgrade-required");
        var requestBody = File.ReadAllBytes(Path.Combine(dir, "request-body.bin"));
        var head = "POST /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nLitefs-Id: 1234567890ABCDEF\r\nContent-Length: 4\r\nConnection: close\r\n\r\n";
        var actual = RawHttp.Parse(await RawHttp.ExchangeAsync(node.Server.Port, [.. Encoding.ASCII.GetBytes(head), .. requestBody]));
        var expectedRaw = File.ReadAllBytes(Path.Combine(dir, "response-headers.txt")).Concat(File.ReadAllBytes(Path.Combine(dir, "response-body.bin"))).ToArray();
        var expected = RawHttp.Parse(expectedRaw);
        // curl's capture kept the connection open; this request asked for close.
        expected.Headers.Add(new("Connection", "close"));
        AssertSameResponse(expected, actual, node.Store.NodeIdText);
    }

    [Theory]
    [InlineData("h-self-node-id", true)]
    [InlineData("i-truncated-posmap", false)]
    public async Task Stream_H2c_ErrorMatchesUpstream(string capture, bool self)
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var dir = NodeFixture.Golden("stream", capture);
        using var http = H2c.NewClient();
        using var request = H2c.Request(HttpMethod.Post, node.Url + "/stream");
        request.Headers.Add("Litefs-Id", self ? node.Store.NodeIdText : "1234567890ABCDEF");
        request.Content = new ByteArrayContent(File.ReadAllBytes(Path.Combine(dir, "request-body.bin")));
        using var response = await http.SendAsync(request);
        await AssertSameH2ResponseAsync(Path.Combine(dir, "response-headers.txt"), Path.Combine(dir, "response-body.bin"), response, node.Store.NodeIdText);
    }

    [Fact]
    public async Task Stream_OnReplica_Is503AsUpstream()
    {
        await using var node = await NodeFixture.StartAsync(primary: false, goldenDb: true);
        var dir = NodeFixture.Golden("mount-files", "replica");
        using var http = H2c.NewClient();
        using var request = H2c.Request(HttpMethod.Post, node.Url + "/stream");
        request.Headers.Add("Litefs-Id", "1234567890ABCDEF");
        request.Content = new ByteArrayContent([0, 0, 0, 0]);
        using var response = await http.SendAsync(request);
        await AssertSameH2ResponseAsync(Path.Combine(dir, "stream-on-replica.response-headers.txt"), Path.Combine(dir, "stream-on-replica.response-body.txt"), response, node.Store.NodeIdText);
    }

    [Theory]
    [InlineData(true, "stream/api/events.body.ndjson")]
    [InlineData(false, "mount-files/replica/events.body.ndjson")]
    public async Task Events_FirstLine_IsUpstreamInit(bool primary, string golden)
    {
        await using var node = await NodeFixture.StartAsync(primary, goldenDb: true);
        using var http = H2c.NewClient(HttpVersion.Version11);
        using var response = await http.GetAsync(node.Url + "/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(node.Store.NodeIdText, response.Headers.GetValues("Litefs-Id").Single());
        Assert.Equal(NodeFixture.GoldenClusterId, response.Headers.GetValues("Litefs-Cluster-Id").Single());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var line = await reader.ReadLineAsync(timeout.Token);
        Assert.Equal(File.ReadLines(NodeFixture.Golden(golden.Split('/'))).First(), line);
    }

    [Theory]
    [InlineData(true, "stream/api/info.response.http")]
    [InlineData(false, "mount-files/replica/info.body.json")]
    public async Task Info_H2c_BodyIsUpstreamJson(bool primary, string golden)
    {
        await using var node = await NodeFixture.StartAsync(primary, goldenDb: true);
        var info = await node.Client.GetInfoAsync(node.Url);
        Assert.Equal(new NodeInfo(NodeFixture.GoldenClusterId, primary, primary, node.Store.DataDir, "primary"), info);
        using var http = H2c.NewClient();
        using var response = await http.SendAsync(H2c.Request(HttpMethod.Get, node.Url + "/info"));
        Assert.Equal(new Version(2, 0), response.Version);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var body = (await response.Content.ReadAsStringAsync()).Replace(node.Store.DataDir, "<data directory>", StringComparison.Ordinal);
        var expected = File.ReadAllText(NodeFixture.Golden(golden.Split('/')));
        if (golden.EndsWith(".http", StringComparison.Ordinal))
        {
            expected = expected[(expected.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        }
        Assert.Equal(expected, body);
    }

    internal static void AssertSameResponse(RawHttp.Response expected, RawHttp.Response actual, string nodeId)
    {
        Assert.Equal(expected.StatusLine, actual.StatusLine);
        Assert.Equal(Encoding.UTF8.GetString(expected.Body), Encoding.UTF8.GetString(actual.Body));
        Assert.Equal(expected.Body, actual.Body);
        static List<string> Normalize(IEnumerable<KeyValuePair<string, string>> headers, string? fromId, string? toId) =>
            [.. headers.Where(h => !h.Key.Equals("Date", StringComparison.OrdinalIgnoreCase))
                .Select(h => $"{h.Key}: {(fromId is not null && h.Key.Equals("Litefs-Id", StringComparison.OrdinalIgnoreCase) ? h.Value.Replace(fromId, toId, StringComparison.Ordinal) : h.Value)}")
                .Order(StringComparer.Ordinal)];
        Assert.Equal(Normalize(expected.Headers, expected.Header("Litefs-Id"), nodeId), Normalize(actual.Headers, null, null));
    }

    private static async Task AssertSameH2ResponseAsync(string headersFile, string bodyFile, HttpResponseMessage response, string nodeId)
    {
        Assert.Equal(new Version(2, 0), response.Version);
        var lines = File.ReadAllText(headersFile).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(lines[0].Trim(), $"HTTP/2 {(int)response.StatusCode}");
        var expected = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p[0] != "date")
            .Select(p => $"{p[0]}: {(p[0] == "litefs-id" ? nodeId : p[1].Trim())}").Order(StringComparer.Ordinal).ToList();
        var actual = response.Headers.Concat(response.Content.Headers).Where(h => h.Key != "Date")
            .Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join(", ", h.Value)}").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(File.ReadAllBytes(bodyFile), await response.Content.ReadAsByteArrayAsync());
    }
}
