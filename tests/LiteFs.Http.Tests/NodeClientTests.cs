namespace LiteFs.Http.Tests;

/// <summary>The client's URL rules (upstream's http.Client) and h2c for https URLs.</summary>
public class NodeClientTests
{
    [Theory]
    [InlineData("http://primary:20202", "/stream", null, "http://primary:20202/stream")]
    [InlineData("http://primary:20202/some/path?x=1", "/info", null, "http://primary:20202/info")]
    [InlineData("https://primary", "/info", null, "http://primary:443/info")]
    [InlineData("HTTP://primary:1", "/stream", "filter=a.db%2Cb.db", "http://primary:1/stream?filter=a.db%2Cb.db")]
    public void BuildUrl_KeepsSchemeHostPortOnly(string baseUrl, string endpoint, string? query, string expected) =>
        Assert.Equal(expected, NodeClient.BuildUrl(baseUrl, endpoint, query).ToString());

    [Theory]
    [InlineData("ftp://primary", "invalid URL scheme")]
    [InlineData("primary:20202", "invalid URL scheme")]
    [InlineData("", "invalid URL scheme")]
    [InlineData("http://", "URL host required")]
    [InlineData("https:///x", "URL host required")]
    public void BuildUrl_BadBase_UpstreamMessage(string baseUrl, string message) =>
        Assert.Equal(message, Assert.Throws<NodeApiException>(() => NodeClient.BuildUrl(baseUrl, "/info")).Message);

    [Fact]
    public async Task GetInfo_HttpsUrl_PlainH2cToTheSamePort()
    {
        await using var node = await NodeFixture.StartAsync();
        var info = await node.Client.GetInfoAsync($"https://127.0.0.1:{node.Server.Port}/ignored");
        Assert.True(info.IsPrimary);
        Assert.Equal(node.Store.ClusterId, info.ClusterId);
    }

    [Fact]
    public async Task Promote_OnPrimary_Succeeds_OnReplica_NotEligible()
    {
        await using var primary = await NodeFixture.StartAsync();
        await primary.Client.PromoteAsync(primary.Url);
        await using var replica = await NodeFixture.StartAsync(primary: false);
        var ex = await Assert.ThrowsAsync<NodeApiException>(() => replica.Client.PromoteAsync(replica.Url));
        Assert.Equal("not eligible to become primary", ex.Message);
    }

    [Fact]
    public async Task Handoff_NotConnected_InvalidResponse500()
    {
        await using var node = await NodeFixture.StartAsync();
        var ex = await Assert.ThrowsAsync<NodeApiException>(() => node.Client.HandoffAsync(node.Url, 42));
        Assert.Equal("invalid response: code=500: cannot handoff: target node is not currently connected", ex.Message);
    }

    [Fact]
    public async Task Connect_NothingListening_FailsFast()
    {
        using var client = new NodeClient(TimeSpan.FromSeconds(2));
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetInfoAsync($"http://127.0.0.1:{port}"));
    }
}
