using System.Collections.Concurrent;
using System.Net;
using LiteFs.Core;
using LiteFs.Core.Metrics;
using LiteFs.Core.Replication;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LiteFs.Http;

/// <summary>How a <see cref="NodeServer"/> is set up (the <c>http</c> settings).</summary>
public sealed record NodeServerOptions
{
    /// <summary>Listen address, as <c>http.addr</c>: <c>:20202</c> (every interface), <c>127.0.0.1:20202</c>; port 0 picks a free port.</summary>
    public string Address { get; init; } = ":20202";

    /// <summary>
    /// Time limit for sending one snapshot on <c>/stream</c> (<c>http.snapshot-timeout</c>, or
    /// <c>data.retention</c> when that is zero, as upstream); zero means no limit.
    /// </summary>
    public TimeSpan SnapshotTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The <c>lease.candidate</c> setting, for leases that do not say it themselves; a static lease's own flag wins.</summary>
    public bool? Candidate { get; init; }

    /// <summary>
    /// The URL of this node's HTTP proxy as other nodes reach it, published in <c>/info</c> as
    /// <c>proxyURL</c> (replicas forward writes there); null when the node runs no proxy.
    /// </summary>
    public string? ProxyUrl { get; init; }

    /// <summary>Other components' series for <c>/metrics</c>, rendered beside the node's own.</summary>
    public IReadOnlyList<IMetricsSource> Metrics { get; init; } = [];

    /// <summary>How long shutdown waits for open requests (streams end with an END frame at once) before connections are cut.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// The node API of one LiteFS node (upstream's <c>http.Server</c>): HTTP/1.1 and h2c with prior
/// knowledge on one port, Kestrel without the generic host. Serves <c>/stream</c> to replicas
/// through <see cref="PrimaryStreamer"/>, <c>/info</c>, <c>/events</c>, <c>/metrics</c>, and the
/// request checks of the write-forwarding, handoff and import/export endpoints.
/// </summary>
public sealed partial class NodeServer : IAsyncDisposable
{
    private readonly Store _store;
    private readonly NodeServerOptions _options;
    private readonly ILogger _logger;
    private readonly PrimaryStreamer _streamer;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ConcurrentDictionary<ulong, int> _connectedReplicas = new();

    // The handoff slot of each replica's newest stream (added and removed by the stream's handler).
    private readonly ConcurrentDictionary<ulong, StreamHandoff> _handoffs = new();
    private KestrelServer? _server;
    private ServiceProvider? _services;
    private NodeClient? _client;
    private int _streamCount;
    private int _disposed;

    /// <summary>
    /// Creates the server for <paramref name="store"/>; nothing listens until <see cref="StartAsync"/>.
    /// The server and its streams log to their own categories of <paramref name="loggerFactory"/>.
    /// </summary>
    public NodeServer(Store store, NodeServerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _options = options ?? new NodeServerOptions();
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger<NodeServer>();
        _streamer = new PrimaryStreamer(store, _options.SnapshotTimeout, loggerFactory);
    }

    /// <summary>The bound endpoint once started (the real port when the address asked for port 0).</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>The bound port once started, else 0.</summary>
    public int Port => EndPoint?.Port ?? 0;

    /// <summary>A base URL for this server (<c>http://host:port</c>; <c>localhost</c> when bound to every interface).</summary>
    public string Url
    {
        get
        {
            var ep = EndPoint ?? throw new InvalidOperationException("the server is not started");
            var any = ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any);
            var host = any ? "localhost" : ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
            return $"http://{host}:{ep.Port}";
        }
    }

    /// <summary>The <c>/stream</c> handlers open now (<c>litefs_http_stream_count</c>).</summary>
    public int StreamCount => Volatile.Read(ref _streamCount);

    /// <summary>Whether a replica with this node ID has a <c>/stream</c> open (what handoff requires).</summary>
    public bool IsReplicaConnected(ulong nodeId) => _connectedReplicas.ContainsKey(nodeId);

    /// <summary>Starts listening; blocking form of <see cref="StartAsync"/>.</summary>
    public void Start() => StartAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Binds the address and starts serving. A bind failure throws (address in use, bad address).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_server is not null)
        {
            throw new InvalidOperationException("the server is already started");
        }
        var address = ListenAddress.Parse(_options.Address);
        var ip = address.Resolve();
        _services ??= new ServiceCollection().BuildServiceProvider();
        var kestrel = new KestrelServerOptions
        {
            AddServerHeader = false,
            ApplicationServices = _services,
        };
        // Go's server has no minimum data rates: a replica busy applying a snapshot may read slowly.
        kestrel.Limits.MinResponseDataRate = null;
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.MaxRequestBodySize = null;
        // A stream writes a snapshot 256 KiB at a time: with the 64 KiB default every write waits
        // until Kestrel has framed and sent most of it.
        kestrel.Limits.MaxResponseBufferSize = 1 << 20;
        // A replica that vanished without closing its connection leaves a stream blocked on flow
        // control; pings find such connections and end them (and their streams).
        kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(10);
        kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
        (_server, EndPoint) = await KestrelListener.StartAsync(kestrel, ip, address.Port, _store.Time, new Application(this), cancellationToken).ConfigureAwait(false);
        LogListening(EndPoint.ToString());
    }

    /// <summary>
    /// Stops serving: streams and event feeds end at once (streams with an END frame), other
    /// requests get until <paramref name="cancellationToken"/> to finish, then connections are cut.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _shutdown.CancelAsync().ConfigureAwait(false);
        if (_server is { } server)
        {
            await server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        using (var timeout = new CancellationTokenSource(_options.ShutdownTimeout))
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }
        _server?.Dispose();
        if (_services is not null)
        {
            await _services.DisposeAsync().ConfigureAwait(false);
        }
        _client?.Dispose();
        _shutdown.Dispose();
    }

    /// <summary>Dispatch on the exact path, as upstream's <c>serveHTTP</c>.</summary>
    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        var method = context.Request.Method;
        if (path == "/metrics")
        {
            await MetricsAsync(context).ConfigureAwait(false);
            return;
        }
        if (path is "/debug/vars" or "/debug/rand" || path.StartsWith("/debug/pprof", StringComparison.Ordinal))
        {
            // Go's expvar, pprof and the random stream have no equivalent here; no node headers, as upstream.
            await HttpErrors.WriteAsync(context, StatusCodes.Status404NotFound, "404 page not found").ConfigureAwait(false);
            return;
        }
        SetNodeHeaders(context.Response);
        Task? handler = (path, method) switch
        {
            ("/stream", "POST") => StreamAsync(context),
            ("/halt", "POST") => HaltAsync(context),
            ("/halt", "DELETE") => UnhaltAsync(context),
            ("/tx", "POST") => TxAsync(context),
            ("/handoff", "POST") => HandoffAsync(context),
            ("/promote", "POST") => PromoteAsync(context),
            ("/import", "POST") => ImportAsync(context),
            ("/export", "GET") => ExportAsync(context),
            ("/info", "GET") => InfoAsync(context),
            ("/events", "GET") => EventsAsync(context),
            _ => null,
        };
        if (handler is not null)
        {
            await handler.ConfigureAwait(false);
        }
        else if (path is "/stream" or "/halt" or "/tx" or "/handoff" or "/promote" or "/import" or "/export" or "/info" or "/events")
        {
            await HttpErrors.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "method not allowed").ConfigureAwait(false);
        }
        else
        {
            await HttpErrors.WriteAsync(context, StatusCodes.Status404NotFound, "404 page not found").ConfigureAwait(false);
        }
    }

    private void SetNodeHeaders(HttpResponse response)
    {
        response.Headers["Litefs-Id"] = _store.NodeIdText;
        if (_store.ClusterId is { Length: > 0 } clusterId)
        {
            response.Headers["Litefs-Cluster-Id"] = clusterId;
        }
    }

    /// <summary>The caller's node ID from <c>Litefs-Id</c>: hex of any case; absent or unparsable is 0.</summary>
    private static ulong CallerId(HttpRequest request) =>
        HttpErrors.TryParseHex(request.Headers["Litefs-Id"].ToString(), out var id) ? id : 0;

    /// <summary>A query parameter as Go's <c>Query().Get</c>: the first value, or empty.</summary>
    private static string Query(HttpRequest request, string name)
    {
        var values = request.Query[name];
        return values.Count > 0 ? values[0] ?? "" : "";
    }

    private bool IsCandidate => _store.Lease is StaticLease s ? s.Candidate : _options.Candidate ?? _store.IsPrimary;

    /// <summary>The hostname of the primary this node knows of; empty on the primary itself (as upstream's primary info).</summary>
    private string KnownPrimaryHostname => _store.IsPrimary ? "" : _store.Lease.PrimaryHostname ?? "";

    private NodeClient Client => LazyInitializer.EnsureInitialized(ref _client, () => new NodeClient());

    /// <summary>Kestrel's entry point: one DefaultHttpContext per request over Kestrel's features.</summary>
    private sealed class Application(NodeServer server) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => server.HandleAsync(context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }

    [LoggerMessage(300, LogLevel.Information, "http server listening on {EndPoint}")]
    private partial void LogListening(string endPoint);

    [LoggerMessage(301, LogLevel.Information, "stream connected: replica {ReplicaId}")]
    private partial void LogStreamConnected(string replicaId);

    [LoggerMessage(302, LogLevel.Information, "stream disconnected: replica {ReplicaId}")]
    private partial void LogStreamDisconnected(string replicaId);

    [LoggerMessage(303, LogLevel.Debug, "http: error: {Status} {Message}")]
    private partial void LogHttpError(int status, string message);

    [LoggerMessage(304, LogLevel.Warning, "events subscriber fell 1024 events behind; its response was ended")]
    private partial void LogEventsOverflow();

    [LoggerMessage(320, LogLevel.Information, "database {Name} imported: now at {Pos}")]
    private partial void LogImported(string name, Ltx.Pos pos);
}
