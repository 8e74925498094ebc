using System.Diagnostics;
using System.Net;

namespace LiteFs.Http.Tests;

/// <summary>HTTP/1.1 and h2c with prior knowledge on one port; the listen address forms.</summary>
public class ProtocolTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 0)]
    public async Task Info_EitherVersionOnOnePort_AnsweredInThatVersion(int major, int minor)
    {
        await using var node = await NodeFixture.StartAsync();
        var version = new Version(major, minor);
        using var http = H2c.NewClient(version);
        // Several requests on the same connection, to see the connection stays in its protocol.
        for (var i = 0; i < 3; i++)
        {
            using var response = await http.SendAsync(H2c.Request(HttpMethod.Get, node.Url + "/info", version));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(version, response.Version);
        }
    }

    [Theory]
    [InlineData("--http1.1", "1.1")]
    [InlineData("--http2-prior-knowledge", "2")]
    public async Task Curl_EitherVersion_Served(string flag, string httpVersion)
    {
        Assert.True(File.Exists("/usr/bin/curl"), "curl is needed (apt-get install curl; test.sh installs it)");
        await using var node = await NodeFixture.StartAsync();
        var (exit, output) = await RunAsync("/usr/bin/curl", "-sS", flag, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", node.Url + "/info");
        Assert.Equal(0, exit);
        Assert.Equal($"{httpVersion} 200", output);
    }

    [Fact]
    public async Task Curl_UpgradeH2c_ServedAsHttp1()
    {
        // Upgrade: h2c is optional for the server; such a request is answered in HTTP/1.1.
        await using var node = await NodeFixture.StartAsync();
        var (exit, output) = await RunAsync("/usr/bin/curl", "-sS", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", node.Url + "/info");
        Assert.Equal(0, exit);
        Assert.Equal("1.1 200", output);
    }

    [Fact]
    public async Task Curl_StreamAsUpstreamCaptures_ReadyAndHeartbeats()
    {
        await using var node = await NodeFixture.StartAsync();
        var body = Path.Combine(node.Dir.Path, "request-body.bin");
        var output = Path.Combine(node.Dir.Path, "response-body.bin");
        File.WriteAllBytes(body, [0, 0, 0, 0]);
        var (exit, _) = await RunAsync("/usr/bin/curl", "-sS", "--http2-prior-knowledge", "-X", "POST", "-H", "Litefs-Id: 1234567890ABCDEF",
            "-H", "Content-Type:", "--data-binary", "@" + body, "-o", output, "--max-time", "2", node.Url + "/stream");
        Assert.Equal(28, exit); // stopped by --max-time: the stream never ends by itself
        var bytes = File.ReadAllBytes(output);
        Assert.Equal([0, 0, 0, 2, 0, 0, 0, 7], bytes[..8]);
        // READY, then a HEARTBEAT at once and one a second later (a third may just make it).
        Assert.InRange(bytes.Length, 4 + (12 * 2), 4 + (12 * 3));
        Assert.Equal(0, (bytes.Length - 4) % 12);
    }

    [Fact]
    public async Task Preface_SentByteByByte_StillHttp2()
    {
        await using var node = await NodeFixture.StartAsync();
        using var client = new System.Net.Sockets.TcpClient { NoDelay = true };
        await client.ConnectAsync("127.0.0.1", node.Server.Port);
        var stream = client.GetStream();
        foreach (var b in H2cPrefaceDetector.Preface.ToArray())
        {
            await stream.WriteAsync(new[] { b });
            await stream.FlushAsync();
            await Task.Delay(5);
        }
        // An empty SETTINGS frame; the server answers with its own SETTINGS (type 4) first.
        await stream.WriteAsync(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 });
        var head = new byte[9];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.ReadExactlyAsync(head, timeout.Token);
        Assert.Equal(4, head[3]);
    }

    [Fact]
    public async Task Http1_SentByteByByte_StillServed()
    {
        await using var node = await NodeFixture.StartAsync();
        using var client = new System.Net.Sockets.TcpClient { NoDelay = true };
        await client.ConnectAsync("127.0.0.1", node.Server.Port);
        var stream = client.GetStream();
        // "P" and "PR" agree with the h2 preface: the server must wait for more, then serve HTTP/1.1.
        foreach (var b in "PRX /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray())
        {
            await stream.WriteAsync(new[] { b });
            await Task.Delay(2);
        }
        using var response = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.CopyToAsync(response, timeout.Token);
        Assert.StartsWith("HTTP/1.1 ", System.Text.Encoding.ASCII.GetString(response.ToArray()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(":20202", "", 20202)]
    [InlineData("127.0.0.1:20299", "127.0.0.1", 20299)]
    [InlineData("[::1]:0", "::1", 0)]
    [InlineData("localhost:8080", "localhost", 8080)]
    public void ListenAddress_Parse_HostAndPort(string text, string host, int port) =>
        Assert.Equal(new ListenAddress(host, port), ListenAddress.Parse(text));

    [Theory]
    [InlineData("20202")]
    [InlineData(":http")]
    [InlineData("::1:20202")]
    [InlineData(":70000")]
    public void ListenAddress_Parse_RejectsBadForms(string text) => Assert.Throws<FormatException>(() => ListenAddress.Parse(text));

    [Fact]
    public async Task Start_AnyInterfacePortZero_BindsAndServes()
    {
        await using var node = await NodeFixture.StartAsync();
        await using var any = new NodeServer(node.Store, new NodeServerOptions { Address = ":0" });
        await any.StartAsync();
        Assert.NotEqual(0, any.Port);
        var info = await node.Client.GetInfoAsync($"http://127.0.0.1:{any.Port}");
        Assert.True(info.IsPrimary);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, output);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
