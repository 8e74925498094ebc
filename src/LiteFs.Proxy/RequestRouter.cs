namespace LiteFs.Proxy;

/// <summary>Where a request goes (proxy.md §2).</summary>
public enum Route
{
    /// <summary>Matches a <c>passthrough</c> pattern: straight to the application, nothing added.</summary>
    Passthrough,

    /// <summary><c>GET /litefs/health</c>, answered by the proxy.</summary>
    Health,

    /// <summary>Served on this node once it has the client's TXID.</summary>
    Read,

    /// <summary>Served on the primary: locally there, forwarded (or replayed) from a replica.</summary>
    Write,
}

/// <summary>
/// Classifies requests: passthrough, then the health check, then read or write. A read is GET or
/// HEAD whose path matches no <c>always-forward</c> pattern, unless it asks for a protocol upgrade
/// (WebSocket): an upgrade is a write, so the connection lands on the primary, unless its path
/// matches a <c>read-upgrades</c> pattern.
/// </summary>
public sealed class RequestRouter
{
    private readonly PathPattern[] _passthrough;
    private readonly PathPattern[] _alwaysForward;
    private readonly PathPattern[] _readUpgrades;

    /// <summary>Builds the router from validated options.</summary>
    /// <exception cref="ProxyConfigurationException">A pattern is invalid.</exception>
    public RequestRouter(ProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _passthrough = ProxyOptions.Patterns(options.Passthrough, "passthrough");
        _alwaysForward = ProxyOptions.Patterns(options.AlwaysForward, "always-forward");
        _readUpgrades = ProxyOptions.Patterns(options.ReadUpgrades, "read-upgrades");
    }

    /// <summary>The route of a request by method, URL path (no query) and whether it asks for an upgrade.</summary>
    public Route Classify(string method, string path, bool isUpgrade = false)
    {
        if (PathPattern.AnyMatch(_passthrough, path))
        {
            return Route.Passthrough;
        }
        if (method == "GET" && path == ProxyOptions.HealthPath)
        {
            return Route.Health;
        }
        if (isUpgrade)
        {
            return PathPattern.AnyMatch(_readUpgrades, path) ? Route.Read : Route.Write;
        }
        return IsReadMethod(method) && !PathPattern.AnyMatch(_alwaysForward, path) ? Route.Read : Route.Write;
    }

    /// <summary>GET and HEAD: the methods that count as reads and never get a cookie.</summary>
    public static bool IsReadMethod(string method) => method is "GET" or "HEAD";
}
