using System.Net;
using Microsoft.Extensions.Logging;

namespace LiteFs.Leases.Consul;

/// <summary>An answer of Consul's HTTP API: status, body, and the <c>X-Consul-Index</c> header (0 when absent).</summary>
internal readonly record struct ConsulResponse(HttpStatusCode Status, byte[] Body, ulong Index)
{
    public bool IsSuccess => (int)Status is >= 200 and < 300;

    public string Text => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>
/// Calls Consul's HTTP API (HTTP/1.1, or HTTPS as the URL says) with the ACL token, each call
/// bounded by the request timeout on the given clock. Safe for concurrent calls.
/// </summary>
internal sealed class ConsulClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string? _token;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;

    public ConsulClient(Uri baseUri, string? token, TimeSpan requestTimeout, TimeProvider time)
    {
        BaseUri = baseUri;
        _token = token;
        _requestTimeout = requestTimeout;
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = requestTimeout, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = baseUri,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Consul's base URL (without credentials).</summary>
    public Uri BaseUri { get; }

    /// <summary>Consul's address for messages.</summary>
    public string Address => BaseUri.GetLeftPart(UriPartial.Authority);

    /// <summary>
    /// Sends one request; <paramref name="extraTime"/> is added to the request timeout (a
    /// blocking query's wait).
    /// </summary>
    /// <exception cref="Core.Leases.LeaseException">Consul cannot be reached or does not answer in time.</exception>
    public async Task<ConsulResponse> SendAsync(HttpMethod method, string pathAndQuery, byte[]? body, CancellationToken cancellationToken, TimeSpan extraTime = default)
    {
        using var timeout = new CancellationTokenSource(_requestTimeout + extraTime, _time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }
        if (!string.IsNullOrEmpty(_token))
        {
            request.Headers.TryAddWithoutValidation("X-Consul-Token", _token);
        }
        try
        {
            using var response = await _http.SendAsync(request, bounded.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(bounded.Token).ConfigureAwait(false);
            var index = response.Headers.TryGetValues("X-Consul-Index", out var values)
                && ulong.TryParse(values.FirstOrDefault(), System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : 0;
            return new ConsulResponse(response.StatusCode, bytes, index);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new Core.Leases.LeaseException($"consul at {Address} did not answer {method} {Path(pathAndQuery)} within {(_requestTimeout + extraTime).TotalSeconds:0.###}s");
        }
        catch (HttpRequestException ex)
        {
            throw new Core.Leases.LeaseException($"cannot connect to consul at {Address}: {ex.Message}", ex);
        }
    }

    /// <summary>A failure answer as an exception naming the call.</summary>
    public Core.Leases.LeaseException Unexpected(HttpMethod method, string pathAndQuery, ConsulResponse response)
    {
        var text = response.Text.Trim();
        if (text.Length > 200)
        {
            text = text[..200] + "...";
        }
        return new Core.Leases.LeaseException($"consul at {Address}: {method} {Path(pathAndQuery)}: Unexpected response code: {(int)response.Status} ({text})");
    }

    private static string Path(string pathAndQuery)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        return q < 0 ? pathAndQuery : pathAndQuery[..q];
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The Consul lease's log messages (category <c>LiteFs.Leases.Consul.ConsulLeaser</c>).</summary>
internal static partial class ConsulLog
{
    [LoggerMessage(850, LogLevel.Information, "registered node {Node} in consul")]
    public static partial void NodeRegistered(this ILogger logger, string node);

    [LoggerMessage(851, LogLevel.Debug, "consul session {Session} could not take {Key}; destroyed")]
    public static partial void SessionDiscarded(this ILogger logger, string session, string key);

    [LoggerMessage(852, LogLevel.Debug, "consul index of {Key} went back from {Old} to {New}; watching from the start")]
    public static partial void IndexReset(this ILogger logger, string key, ulong old, ulong @new);
}
