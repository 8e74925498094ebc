namespace LiteFs.Proxy;

/// <summary>How a replica's proxy answers a write (<c>proxy.forward-mode</c>).</summary>
public enum ForwardMode
{
    /// <summary>Send the request to the primary's proxy and relay its response (the default off Fly.io).</summary>
    Proxy,

    /// <summary>Answer <c>200</c> with <c>fly-replay: instance=PRIMARY</c>, as upstream (the default on Fly.io).</summary>
    FlyReplay,
}

/// <summary>The <c>proxy</c> settings of <c>litefs.yml</c> (proxy.md §1) and this implementation's additions.</summary>
public sealed record ProxyOptions
{
    /// <summary>The read-your-writes cookie.</summary>
    public const string TxIdCookieName = "__txid";

    /// <summary>The read-your-writes header for API clients (set on write responses, honoured on reads).</summary>
    public const string TxIdHeaderName = "Litefs-Txid";

    /// <summary>Marks a write a replica's proxy forwarded; its value is the forwarding node's ID.</summary>
    public const string ForwardedHeaderName = "Litefs-Forwarded-By";

    /// <summary>The health check path.</summary>
    public const string HealthPath = "/litefs/health";

    /// <summary>The cookie's lifetime.</summary>
    public static readonly TimeSpan CookieLifetime = TimeSpan.FromMinutes(5);

    /// <summary>How often a read polls the database's TXID.</summary>
    public static readonly TimeSpan TxIdPollInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>How long a read waits for its TXID before <c>504</c>.</summary>
    public static readonly TimeSpan TxIdTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How often a write polls for primary information while waiting.</summary>
    public static readonly TimeSpan PrimaryPollInterval = TimeSpan.FromTicks(1000); // 100 µs

    /// <summary>Connecting to the application: pause between attempts while it refuses connections.</summary>
    public static readonly TimeSpan DialRetryInterval = TimeSpan.FromMilliseconds(100);

    /// <summary><c>addr</c>: listen address (<c>:8080</c>, <c>127.0.0.1:8080</c>); required.</summary>
    public string Address { get; init; } = "";

    /// <summary><c>target</c>: <c>host:port</c> of the application; required.</summary>
    public string Target { get; init; } = "";

    /// <summary><c>db</c>: the database whose TXID the cookie carries; required.</summary>
    public string Db { get; init; } = "";

    /// <summary><c>max-lag</c>: the health check fails above this lag; zero disables the check.</summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>debug</c>: log every routing decision.</summary>
    public bool Debug { get; init; }

    /// <summary><c>passthrough</c>: path patterns sent to the application untouched.</summary>
    public IReadOnlyList<string> Passthrough { get; init; } = [];

    /// <summary><c>always-forward</c>: path patterns whose GET/HEAD requests are writes.</summary>
    public IReadOnlyList<string> AlwaysForward { get; init; } = [];

    /// <summary><c>read-upgrades</c>: path patterns whose upgrade requests (WebSocket) are reads served on this node.</summary>
    public IReadOnlyList<string> ReadUpgrades { get; init; } = [];

    /// <summary><c>primary-redirect-timeout</c>: how long a write waits to learn the primary.</summary>
    public TimeSpan PrimaryRedirectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>read-timeout</c>: time to read a whole request; zero means none.</summary>
    public TimeSpan ReadTimeout { get; init; }

    /// <summary><c>read-header-timeout</c>: time to read a request's headers.</summary>
    public TimeSpan ReadHeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>write-timeout</c>: time from a request's headers to the end of its response; zero means none.</summary>
    public TimeSpan WriteTimeout { get; init; }

    /// <summary><c>idle-timeout</c>: keep-alive idle timeout.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>dial-timeout</c>: time to connect to the application, retrying refused connections every 100 ms.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>forward-mode</c>: what a replica does with a write.</summary>
    public ForwardMode ForwardMode { get; init; } = ForwardMode.Proxy;

    /// <summary>
    /// This proxy's URL as other nodes reach it (<c>advertise-url</c>, or derived from the lease's
    /// advertise URL and <see cref="Address"/>); published in the node's <c>/info</c>.
    /// </summary>
    public string? AdvertiseUrl { get; init; }

    /// <summary>Throws upstream's start-up error for the first missing value or bad pattern.</summary>
    /// <exception cref="ProxyConfigurationException">A required value is missing or a pattern is invalid.</exception>
    public void Validate()
    {
        if (Target.Length == 0)
        {
            throw new ProxyConfigurationException("proxy target required");
        }
        if (Db.Length == 0)
        {
            throw new ProxyConfigurationException("proxy database name required");
        }
        if (Address.Length == 0)
        {
            throw new ProxyConfigurationException("proxy bind address required");
        }
        if (!IsListenAddress(Address))
        {
            throw new ProxyConfigurationException($"invalid proxy.addr \"{Address}\": want \":PORT\" or \"HOST:PORT\"");
        }
        _ = Patterns(Passthrough, "passthrough");
        _ = Patterns(AlwaysForward, "always-forward");
        _ = Patterns(ReadUpgrades, "read-upgrades");
        if (AdvertiseUrl is { Length: > 0 } url && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            throw new ProxyConfigurationException($"invalid proxy advertise URL: \"{url}\" (want http://host:port)");
        }
    }

    /// <summary>
    /// Whether <paramref name="address"/> has the form the proxy binds: <c>:PORT</c> (every
    /// interface) or <c>HOST:PORT</c>, the host a name, an IPv4 address or a bracketed IPv6 one.
    /// Syntax only: a name is resolved when the proxy starts.
    /// </summary>
    public static bool IsListenAddress(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port > System.Net.IPEndPoint.MaxPort)
        {
            return false;
        }
        var host = address[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            return System.Net.IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }
        return host.Length == 0 || Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }

    /// <summary>
    /// Whether <paramref name="target"/> is the application's <c>HOST[:PORT]</c> with nothing
    /// else: the proxy sends requests to <c>http://TARGET</c> followed by the request's path.
    /// </summary>
    public static bool IsTarget(string target) =>
        !target.Contains("://", StringComparison.Ordinal)
        && Uri.TryCreate("http://" + target, UriKind.Absolute, out var uri)
        && uri.Host.Length > 0 && uri.AbsolutePath == "/" && uri.Query.Length == 0 && uri.Fragment.Length == 0
        && uri.UserInfo.Length == 0 && !target.EndsWith('/');

    /// <summary>Parses a list of patterns, failing with upstream's message for the first bad one.</summary>
    internal static PathPattern[] Patterns(IReadOnlyList<string> texts, string key)
    {
        var patterns = new PathPattern[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            if (!PathPattern.TryParse(texts[i], out var pattern))
            {
                throw new ProxyConfigurationException($"cannot parse proxy {key} expression: \"{texts[i]}\"");
            }
            patterns[i] = pattern!;
        }
        return patterns;
    }

    /// <summary>
    /// The URL other nodes reach a proxy on: <paramref name="nodeAdvertiseUrl"/>'s scheme and host
    /// with the port of <paramref name="address"/>; null when either gives nothing to build on.
    /// </summary>
    public static string? DeriveAdvertiseUrl(string? nodeAdvertiseUrl, string address)
    {
        if (string.IsNullOrEmpty(nodeAdvertiseUrl) || !Uri.TryCreate(nodeAdvertiseUrl, UriKind.Absolute, out var node) || node.Host.Length == 0)
        {
            return null;
        }
        var colon = address.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }
        return new UriBuilder("http", node.Host, port).Uri.GetLeftPart(UriPartial.Authority);
    }
}

/// <summary>A <c>proxy</c> setting that keeps the proxy from starting; the message is upstream's.</summary>
public sealed class ProxyConfigurationException(string message) : Exception(message);
