using System.Net.Sockets;
using System.Text;

namespace LiteFs.Http.Tests;

/// <summary>An HTTP/1.1 exchange over a plain socket: the exact request bytes out, every byte back until the server closes.</summary>
internal static class RawHttp
{
    public static async Task<byte[]> ExchangeAsync(int port, byte[] request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(request);
        using var response = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await stream.CopyToAsync(response, timeout.Token);
        return response.ToArray();
    }

    /// <summary>A response split into status line, headers (name → value, names as sent) and body.</summary>
    public sealed record Response(string StatusLine, List<KeyValuePair<string, string>> Headers, byte[] Body)
    {
        public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
    }

    public static Response Parse(byte[] raw)
    {
        var end = raw.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(end >= 0, "no end of headers in: " + Encoding.Latin1.GetString(raw));
        var lines = Encoding.Latin1.GetString(raw, 0, end).Split("\r\n");
        var headers = lines.Skip(1).Select(l =>
        {
            var colon = l.IndexOf(':', StringComparison.Ordinal);
            return new KeyValuePair<string, string>(l[..colon], l[(colon + 1)..].Trim());
        }).ToList();
        return new Response(lines[0], headers, raw[(end + 4)..]);
    }
}
