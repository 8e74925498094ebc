using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LiteFs.Http;

/// <summary>
/// Starts Kestrel without a host, serving HTTP/1.1 and h2c with prior knowledge on one port
/// (<see cref="H2cPrefaceDetector"/>): the node API's server and the proxy's. Shared as source.
/// </summary>
internal static class KestrelListener
{
    /// <summary>
    /// Listens on <paramref name="ip"/> (every interface when null) and <paramref name="port"/>
    /// (0 picks a free one) with the caller's <paramref name="kestrel"/> settings, and starts
    /// serving <paramref name="application"/>. A bind failure throws and leaves nothing running.
    /// </summary>
    /// <returns>The running server and the endpoint it bound (with the real port).</returns>
    public static async Task<(KestrelServer Server, IPEndPoint EndPoint)> StartAsync<TContext>(
        KestrelServerOptions kestrel, IPAddress? ip, int port, TimeProvider time, IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        // h2c connections look like TLS to Kestrel (see H2cPrefaceDetector), so their requests'
        // ":scheme: http" must be accepted as an alternate scheme.
        kestrel.AllowAlternateSchemes = true;
        void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.Use(next => connection => H2cPrefaceDetector.OnConnectionAsync(connection, next, time));
        }
        if (ip is null)
        {
            kestrel.ListenAnyIP(port, Configure);
        }
        else
        {
            kestrel.Listen(ip, port, Configure);
        }
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        var server = new KestrelServer(Options.Create(kestrel), transport, NullLoggerFactory.Instance);
        try
        {
            await server.StartAsync(application, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            throw;
        }
        var bound = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var boundPort = bound is not null && Uri.TryCreate(bound, UriKind.Absolute, out var uri) ? uri.Port : port;
        return (server, new IPEndPoint(ip ?? IPAddress.Any, boundPort));
    }
}
