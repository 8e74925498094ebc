using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LiteFs.Core;
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
using Yarp.ReverseProxy.Forwarder;

namespace LiteFs.Proxy;

/// <summary>
/// The built-in HTTP proxy in front of the node's application (proxy.md): Kestrel without the
/// generic host, HTTP/1.1 and h2c on one port, YARP's <see cref="IHttpForwarder"/> for the HTTP
/// work. Reads wait for the client's TXID and go to the local application; writes go to the
/// local application on the primary and, on a replica, to the primary's proxy (or get a
/// <c>fly-replay</c> answer). Who is primary is read from the node's state on every request.
/// </summary>
public sealed partial class ProxyServer : IAsyncDisposable
{
    /// <summary>Go's <c>http.DefaultMaxHeaderBytes</c>: request line and headers together.</summary>
    private const int MaxHeaderBytes = 1 << 20;

    /// <summary>Stands for "no limit" where Kestrel wants a positive time.</summary>
    private static readonly TimeSpan NoLimit = TimeSpan.FromDays(24);

    private readonly Store _store;
    private readonly ProxyOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RequestRouter _router;
    private readonly string _targetPrefix;
    private readonly ServiceProvider _services;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _targetClient;
    private readonly HttpMessageInvoker _primaryClient;
    private readonly ForwarderRequestConfig _requestConfig;
    private readonly TargetTransformer _plainTransformer;
    private readonly TargetTransformer _txIdTransformer;
    private readonly PrimaryTransformer _primaryTransformer;
    private readonly PrimaryProxyLocator _locator;
    private KestrelServer? _server; // set once by StartAsync, before any request
    private string? _fallbackLoggedFor; // last primary whose missing proxy URL was logged; request threads, Volatile
    private int _disposed;

    /// <summary>Checks the options (upstream's start-up errors) and prepares the proxy; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <exception cref="ProxyConfigurationException">A required setting is missing or a pattern is invalid.</exception>
    public ProxyServer(Store store, ProxyOptions options, ILoggerFactory? loggers = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _store = store;
        _options = options;
        _logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger<ProxyServer>();
        _time = time ?? TimeProvider.System;
        _router = new RequestRouter(options);
        _targetPrefix = "http://" + options.Target;
        _services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddSingleton(_time)
            .AddHttpForwarder()
            .BuildServiceProvider();
        _forwarder = _services.GetRequiredService<IHttpForwarder>();
        _targetClient = new HttpMessageInvoker(CreateHandler(retryRefused: true));
        _primaryClient = new HttpMessageInvoker(CreateHandler(retryRefused: false));
        // Go's proxy has no activity timeout: a quiet long poll or event stream stays open.
        _requestConfig = new ForwarderRequestConfig { ActivityTimeout = NoLimit };
        _plainTransformer = new TargetTransformer(store, options.Db, _time, setTxId: false);
        _txIdTransformer = new TargetTransformer(store, options.Db, _time, setTxId: true);
        _primaryTransformer = new PrimaryTransformer(store.NodeIdText);
        _locator = new PrimaryProxyLocator(_primaryClient, _time);
    }

    /// <summary>The proxy's counters, for the node's <c>/metrics</c>.</summary>
    public ProxyMetrics Metrics { get; } = new();

    /// <summary>The bound endpoint once started (the real port when the address asked for port 0).</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>Binds <see cref="ProxyOptions.Address"/> and starts serving; a bind failure throws.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_server is not null)
        {
            throw new InvalidOperationException("the proxy is already started");
        }
        var (ip, port) = ParseAddress(_options.Address);
        var kestrel = new KestrelServerOptions
        {
            AddServerHeader = false,
            ApplicationServices = _services,
        };
        var limits = kestrel.Limits;
        limits.KeepAliveTimeout = Positive(_options.IdleTimeout, _options.ReadTimeout);
        limits.RequestHeadersTimeout = Positive(_options.ReadHeaderTimeout, _options.ReadTimeout);
        // Go's server: no body size limit, no minimum data rates, 1 MiB of request line and headers.
        limits.MaxRequestBodySize = null;
        limits.MinRequestBodyDataRate = null;
        limits.MinResponseDataRate = null;
        limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
        limits.MaxRequestLineSize = MaxHeaderBytes;
        (_server, EndPoint) = await LiteFs.Http.KestrelListener.StartAsync(kestrel, ip, port, _time, new Application(this), cancellationToken).ConfigureAwait(false);
        LogListening(EndPoint.ToString(), _options.Target, _options.Db);
    }

    /// <summary>Stops accepting, gives open requests until <paramref name="cancellationToken"/> to finish, then cuts connections.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
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
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }
        _server?.Dispose();
        _targetClient.Dispose();
        _primaryClient.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    private static TimeSpan Positive(TimeSpan value, TimeSpan fallback) =>
        value > TimeSpan.Zero ? value : fallback > TimeSpan.Zero ? fallback : NoLimit;

    /// <summary><c>:8080</c> (every interface), <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>, <c>localhost:8080</c>.</summary>
    private static (IPAddress? Ip, int Port) ParseAddress(string address)
    {
        if (!ProxyOptions.IsListenAddress(address))
        {
            throw new ProxyConfigurationException($"invalid proxy.addr \"{address}\": want \":PORT\" or \"HOST:PORT\"");
        }
        var colon = address.LastIndexOf(':');
        var port = int.Parse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture);
        var host = address[..colon].Trim('[', ']');
        if (host.Length == 0)
        {
            return (null, port);
        }
        if (IPAddress.TryParse(host, out var ip))
        {
            return (ip, port);
        }
        var addresses = Dns.GetHostAddresses(host);
        return (addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First(), port);
    }

    /// <summary>
    /// The outgoing connection pool (upstream's transport): 90 s idle connections, 30 s to connect,
    /// 1 s expect-continue, no redirects, cookies, decompression or added tracing headers. Towards
    /// the application a refused connection is retried every 100 ms within the connect time, so
    /// requests wait while it starts.
    /// </summary>
    private SocketsHttpHandler CreateHandler(bool retryRefused)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ActivityHeadersPropagator = null,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = _options.DialTimeout,
            Expect100ContinueTimeout = TimeSpan.FromSeconds(1),
            EnableMultipleHttp2Connections = true,
        };
        if (retryRefused)
        {
            handler.ConnectCallback = ConnectWithRetryAsync;
        }
        return handler;
    }

    private async ValueTask<Stream> ConnectWithRetryAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused
                && _time.GetElapsedTime(started) + ProxyOptions.DialRetryInterval < _options.DialTimeout)
            {
                socket.Dispose();
                await Task.Delay(ProxyOptions.DialRetryInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
    }

    /// <summary>Kestrel's entry point: one DefaultHttpContext per request over Kestrel's features.</summary>
    private sealed class Application(ProxyServer server) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => server.HandleAsync(context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }

    [LoggerMessage(700, LogLevel.Information, "proxy server listening on {EndPoint}, application at {Target}, tracking {Db}")]
    private partial void LogListening(string endPoint, string target, string db);

    [LoggerMessage(701, LogLevel.Information, "proxy: {Method} {Path}: {Decision}")]
    private partial void LogRoute(string method, string path, string decision);

    [LoggerMessage(702, LogLevel.Warning, "proxy: {Method} {Path}: application error: {Error}")]
    private partial void LogUpstreamError(string method, string path, string error);

    [LoggerMessage(703, LogLevel.Warning, "proxy: {Method} {Path}: cannot forward to the primary: {Error}")]
    private partial void LogForwardError(string method, string path, string error);

    [LoggerMessage(704, LogLevel.Information, "proxy: primary {Primary} publishes no proxy URL (an upstream LiteFS node?): answering writes with fly-replay instead of forwarding them")]
    private partial void LogFlyReplayFallback(string primary);

    [LoggerMessage(705, LogLevel.Warning, "proxy: {Method} {Path}: write forwarded by node {From} reached this node, which is not the primary: 503")]
    private partial void LogForwardedToReplica(string method, string path, string from);
}
