using System.Globalization;
using System.Net;
using System.Text.Json;
using LiteFs.Core;
using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Http;

/// <summary>A call to another node's API failed: a bad base URL, or a status other than 200 (<c>invalid response: code=N</c>).</summary>
public sealed class NodeApiException : LiteFsException
{
    /// <summary>Creates the exception.</summary>
    public NodeApiException(string message, int? statusCode = null)
        : base(LiteFsError.Io, message)
    {
        StatusCode = statusCode;
    }

    /// <summary>The response status, when the failure is one.</summary>
    public int? StatusCode { get; }
}

/// <summary>What <c>GET /info</c> says about a node.</summary>
public sealed record NodeInfo(string? ClusterId, bool IsPrimary, bool Candidate, string Path, string PrimaryHostname);

/// <summary>
/// The node API client (upstream's <c>http.Client</c>): HTTP/2 with prior knowledge over plain
/// TCP for every call, even for an <c>https</c> URL, as LiteFS nodes and the CLI talk to each
/// other. One instance holds a connection pool; share it.
/// </summary>
public sealed class NodeClient : IPrimaryClient, IHaltClient, IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client; <paramref name="connectTimeout"/> bounds each TCP connect (default 5 s).</summary>
    public NodeClient(TimeSpan? connectTimeout = null)
    {
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(5);
        _http = new HttpClient(NewHandler(_connectTimeout)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private readonly TimeSpan _connectTimeout;

    /// <summary>
    /// Whether this node is a candidate for the lease, told to the primary on every stream
    /// (<c>Litefs-Candidate</c>, a header upstream's nodes ignore) so a primary that stops hands
    /// its lease to a node that can take it; null sends nothing.
    /// </summary>
    public bool? Candidate { get; init; }

    private static SocketsHttpHandler NewHandler(TimeSpan connectTimeout) =>
        new()
        {
            ConnectTimeout = connectTimeout,
            // A stream is unbounded in time; a dead peer is found by pings (and the replica's own
            // stall watchdog), not by a request timeout.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            EnableMultipleHttp2Connections = true,
            // A stream carries snapshots of whole databases: with the 64 KiB default window the
            // primary stops every few frames until the replica's WINDOW_UPDATE comes back.
            InitialHttp2StreamWindowSize = 4 << 20,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
        };

    /// <summary>
    /// The URL of <paramref name="endpoint"/> on the node at <paramref name="baseUrl"/>: scheme
    /// <c>http</c> or <c>https</c> and a host required, its path and query dropped; an
    /// <c>https</c> URL keeps its port (443 by default) but is reached over plain TCP.
    /// </summary>
    public static Uri BuildUrl(string baseUrl, string endpoint, string? query = null)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        var schemeEnd = baseUrl.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd > 0 ? baseUrl[..schemeEnd].ToLowerInvariant() : "";
        if (scheme is not ("http" or "https"))
        {
            throw new NodeApiException("invalid URL scheme");
        }
        if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            throw new NodeApiException("URL host required");
        }
        var builder = new UriBuilder(Uri.UriSchemeHttp, uri.Host, uri.Port, endpoint) { Query = query ?? "" };
        return builder.Uri;
    }

    /// <inheritdoc />
    public async Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var query = filter is { Count: > 0 } ? "filter=" + Uri.EscapeDataString(string.Join(',', filter)) : null;
        using var request = NewRequest(HttpMethod.Post, BuildUrl(primaryUrl, "/stream", query), nodeId);
        if (Candidate is { } candidate)
        {
            request.Headers.TryAddWithoutValidation("Litefs-Candidate", candidate ? "true" : "false");
        }
        request.Content = new ByteArrayContent(PosMapCodec.Encode(positions));
        // Each stream has a connection of its own, closed with it: a replica that drops a stream
        // as dead must not send its next attempt down the same dead connection.
        var http = new HttpClient(NewHandler(_connectTimeout)) { Timeout = Timeout.InfiniteTimeSpan };
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            EnsureOk(response);
            var clusterId = response.Headers.TryGetValues("Litefs-Cluster-Id", out var values) ? values.FirstOrDefault() : null;
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new PrimaryStream(clusterId, body, new Owned(response, http));
        }
        catch
        {
            response?.Dispose();
            http.Dispose();
            throw;
        }
    }

    /// <summary><c>GET /info</c> of the node at <paramref name="baseUrl"/>.</summary>
    public async Task<NodeInfo> GetInfoAsync(string baseUrl, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Get, BuildUrl(baseUrl, "/info"), nodeId: null);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        EnsureOk(response);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            string? Text(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            bool Flag(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;
            var hostname = root.TryGetProperty("primary", out var primary) && primary.ValueKind == JsonValueKind.Object ? Text(primary, "hostname") : null;
            return new NodeInfo(Text(root, "clusterID"), Flag("isPrimary"), Flag("candidate"), Text(root, "path") ?? "", hostname ?? "");
        }
        catch (JsonException ex)
        {
            throw new NodeApiException($"cannot decode /info response: {ex.Message}");
        }
    }

    /// <summary><c>POST /handoff?nodeID=</c>: asks the primary at <paramref name="baseUrl"/> to hand its lease to <paramref name="nodeId"/>.</summary>
    public async Task HandoffAsync(string baseUrl, ulong nodeId, CancellationToken cancellationToken = default)
    {
        var url = BuildUrl(baseUrl, "/handoff", "nodeID=" + nodeId.ToString("X16", CultureInfo.InvariantCulture));
        using var request = NewRequest(HttpMethod.Post, url, nodeId: null);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureOkWithReasonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>POST /promote</c>: asks the node at <paramref name="baseUrl"/> to become primary.</summary>
    public async Task PromoteAsync(string baseUrl, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Post, BuildUrl(baseUrl, "/promote"), nodeId: null);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            throw new NodeApiException("not eligible to become primary", 409);
        }
        await EnsureOkWithReasonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As upstream's client (<c>invalid response: code=N</c>), followed by the node's reason when it gave one.</summary>
    private static async Task EnsureOkWithReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var reason = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
            throw new NodeApiException($"invalid response: code={(int)response.StatusCode}{(reason.Length > 0 ? ": " + reason : "")}", (int)response.StatusCode);
        }
    }

    /// <inheritdoc />
    public async Task<HaltLockInfo> AcquireHaltAsync(string primaryUrl, ulong nodeId, string name, long id, CancellationToken cancellationToken)
    {
        var query = "name=" + Uri.EscapeDataString(name) + "&id=" + id.ToString(CultureInfo.InvariantCulture);
        using var request = NewRequest(HttpMethod.Post, BuildUrl(primaryUrl, "/halt", query), nodeId);
        using var response = await SendForwardingAsync(request, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return ParseHaltLock(bytes);
    }

    /// <summary>
    /// A HALT lock from <c>POST /halt</c>'s body: <c>id</c>, <c>pos</c> (<c>TXID</c> and
    /// <c>PostApplyChecksum</c>, any case, as v0.4.0 wrote them in lower camel case) and
    /// <c>expires</c> (RFC 3339, or null).
    /// </summary>
    public static HaltLockInfo ParseHaltLock(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            JsonElement? Get(JsonElement e, string key)
            {
                foreach (var p in e.EnumerateObject())
                {
                    if (string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase))
                    {
                        return p.Value;
                    }
                }
                return null;
            }
            var id = Get(root, "id")?.GetInt64() ?? throw new NodeApiException("halt lock: no id");
            var pos = Get(root, "pos") ?? throw new NodeApiException("halt lock: no pos");
            var txid = TxId.Parse(Get(pos, "TXID")?.GetString() ?? throw new NodeApiException("halt lock: no pos.TXID"));
            var checksum = Checksum.Parse(Get(pos, "PostApplyChecksum")?.GetString() ?? throw new NodeApiException("halt lock: no pos.PostApplyChecksum"));
            DateTimeOffset? expires = Get(root, "expires") is { ValueKind: JsonValueKind.String } e
                ? DateTimeOffset.Parse(e.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)
                : null;
            return new HaltLockInfo(id, new Pos(txid, checksum), expires);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new NodeApiException($"cannot decode halt lock: {ex.Message}");
        }
    }

    /// <inheritdoc />
    public async Task ReleaseHaltAsync(string primaryUrl, ulong nodeId, string name, long id, CancellationToken cancellationToken)
    {
        var query = "name=" + Uri.EscapeDataString(name) + "&id=" + id.ToString(CultureInfo.InvariantCulture);
        using var request = NewRequest(HttpMethod.Delete, BuildUrl(primaryUrl, "/halt", query), nodeId);
        using var response = await SendForwardingAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task CommitAsync(string primaryUrl, ulong nodeId, string name, long lockId, Stream ltx, CancellationToken cancellationToken)
    {
        var query = "name=" + Uri.EscapeDataString(name) + "&lockID=" + lockId.ToString(CultureInfo.InvariantCulture);
        using var request = NewRequest(HttpMethod.Post, BuildUrl(primaryUrl, "/tx", query), nodeId);
        request.Content = new StreamContent(ltx, 1 << 20);
        using var response = await SendForwardingAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a write-forwarding request; a transport failure or a status other than 200 is a <see cref="NodeApiException"/>.</summary>
    private async Task<HttpResponseMessage> SendForwardingAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new NodeApiException($"{request.Method} {request.RequestUri?.AbsolutePath}: {ex.Message}");
        }
        try
        {
            await EnsureOkWithMessageAsync(response, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>Throws unless the status is 200, with the primary's own message (its body's first line) when it gave one.</summary>
    private static async Task EnsureOkWithMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.OK)
        {
            return;
        }
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var line = body.Split('\n', 2)[0].Trim();
        throw new NodeApiException(line.Length > 0 ? line : $"invalid response: code={(int)response.StatusCode}", (int)response.StatusCode);
    }

    /// <summary>
    /// <c>POST /import?name=</c>: uploads a SQLite database file to the primary, streamed from
    /// <paramref name="file"/>. A refusal carries the primary's reason.
    /// </summary>
    public async Task ImportAsync(string baseUrl, string name, Stream file, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Post, BuildUrl(baseUrl, "/import", "name=" + Uri.EscapeDataString(name)), nodeId: null);
        request.Version = HttpVersion.Version11;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
        request.Content = new StreamContent(file, 1 << 20);
        using var response = await SendForwardingAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET /export?name=</c>: streams the database as a plain SQLite file into
    /// <paramref name="destination"/>. An unknown database is <c>database not found</c>.
    /// </summary>
    public async Task ExportAsync(string baseUrl, string name, Stream destination, CancellationToken cancellationToken = default)
    {
        using var request = NewRequest(HttpMethod.Get, BuildUrl(baseUrl, "/export", "name=" + Uri.EscapeDataString(name)), nodeId: null);
        request.Version = HttpVersion.Version11;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new NodeApiException($"GET /export: {ex.Message}");
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new NodeApiException("database not found", 404);
            }
            await EnsureOkWithMessageAsync(response, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await body.CopyToAsync(destination, 1 << 20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static HttpRequestMessage NewRequest(HttpMethod method, Uri url, ulong? nodeId)
    {
        var request = new HttpRequestMessage(method, url)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (nodeId is { } id)
        {
            request.Headers.TryAddWithoutValidation("Litefs-Id", id.ToString("X16", CultureInfo.InvariantCulture));
        }
        return request;
    }

    private static void EnsureOk(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new NodeApiException($"invalid response: code={(int)response.StatusCode}", (int)response.StatusCode);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    /// <summary>A stream's response and the client that holds its connection, released together.</summary>
    private sealed class Owned(HttpResponseMessage response, HttpClient http) : IDisposable
    {
        public void Dispose()
        {
            response.Dispose();
            http.Dispose();
        }
    }
}
