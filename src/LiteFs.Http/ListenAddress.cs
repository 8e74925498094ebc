using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LiteFs.Http;

/// <summary>
/// A listen address as upstream's <c>http.addr</c> takes it (Go's <c>net.Listen("tcp", addr)</c>):
/// <c>:20202</c> is every interface, <c>127.0.0.1:20202</c> or <c>[::1]:20202</c> one address,
/// <c>localhost:20202</c> a name resolved at start-up. Port 0 picks a free port.
/// </summary>
public readonly record struct ListenAddress(string Host, int Port)
{
    /// <summary>Whether the address means every interface (empty host).</summary>
    public bool IsAny => Host.Length == 0;

    /// <summary>Parses <c>host:port</c>; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static ListenAddress Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var colon = address.LastIndexOf(':');
        if (colon < 0)
        {
            throw new FormatException($"invalid http.addr \"{address}\": missing port (use \":20202\" or \"host:20202\")");
        }
        var host = address[..colon];
        var portText = address[(colon + 1)..];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            throw new FormatException($"invalid http.addr \"{address}\": an IPv6 address must be in brackets, e.g. \"[::1]:20202\"");
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
        {
            throw new FormatException($"invalid http.addr \"{address}\": port \"{portText}\" is not a number from 0 to 65535");
        }
        return new ListenAddress(host, port);
    }

    /// <summary>The address to bind, or null for every interface; host names are resolved (IPv4 first, as Go prefers).</summary>
    public IPAddress? Resolve()
    {
        if (IsAny)
        {
            return null;
        }
        if (IPAddress.TryParse(Host, out var ip))
        {
            return ip;
        }
        var addresses = Dns.GetHostAddresses(Host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <inheritdoc />
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
