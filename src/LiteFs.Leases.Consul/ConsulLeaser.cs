using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using LiteFs.Core.Leases;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Leases.Consul;

/// <summary>
/// The primary lease in Consul, as upstream LiteFS keeps it (config-and-cli.md §5): the primary
/// creates a session (behaviour <c>delete</c>, the TTL, the lock-delay, no health checks),
/// acquires the lease key with it writing its primary-info JSON, renews the session every half
/// TTL, and on release releases the key and destroys the session. An invalidated session
/// (expired, destroyed) deletes the key, and Consul's lock-delay then keeps it from being taken
/// at once. The cluster ID is the raw value of <c>KEY/clusterid</c>. A handoff passes the session
/// ID. Unlike upstream, replicas also watch the key, with blocking queries.
/// </summary>
public sealed class ConsulLeaser : ILeaser
{
    private readonly ConsulLeaserOptions _options;
    private readonly ILogger _logger;
    private readonly ConsulClient _client;
    private readonly string _key;
    private readonly string _keyPath;
    private readonly string _clusterIdPath;
    private readonly string? _node;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _lockDelay;

    // Set once the node is registered (only with a key prefix); a race registers twice, harmlessly.
    private volatile bool _registered;

    /// <summary>Creates the leaser; nothing is sent until the first call.</summary>
    /// <exception cref="ArgumentException">The URL is not an http(s) URL, or the key is missing.</exception>
    public ConsulLeaser(ConsulLeaserOptions options, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Key))
        {
            throw new ArgumentException("must specify a consul key (lease.consul.key)", nameof(options));
        }
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"invalid consul url \"{options.Url}\": want e.g. http://consul:8500 (lease.consul.url)", nameof(options));
        }
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ConsulLeaser>();
        var prefix = JoinPath(Uri.UnescapeDataString(url.AbsolutePath));
        _key = JoinPath(prefix, options.Key);
        _keyPath = "v1/kv/" + Escape(_key);
        _clusterIdPath = "v1/kv/" + Escape(JoinPath(_key, "clusterid"));
        _node = prefix.Length > 0 ? JoinPath(prefix, "litefs") : null;
        _ttl = options.EffectiveTtl;
        _lockDelay = options.EffectiveLockDelay;
        var token = TokenOf(url) ?? options.Token;
        _client = new ConsulClient(new Uri(url.GetLeftPart(UriPartial.Authority) + "/"), token, options.RequestTimeout, time ?? TimeProvider.System);
        Self = new PrimaryInfo(options.Hostname, options.AdvertiseUrl);
    }

    /// <inheritdoc />
    public string Type => "consul";

    /// <inheritdoc />
    public PrimaryInfo Self { get; }

    /// <inheritdoc />
    public bool SupportsHandoff => true;

    /// <summary>The lease key as Consul stores it (prefix and key joined).</summary>
    public string Key => _key;

    /// <inheritdoc />
    public async Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken)
    {
        await RegisterNodeAsync(cancellationToken).ConfigureAwait(false);
        var session = await CreateSessionAsync(cancellationToken).ConfigureAwait(false);
        bool acquired;
        try
        {
            acquired = await KvBoolAsync($"{_keyPath}?acquire={Uri.EscapeDataString(session)}", PrimaryInfoJson.Encode(Self), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DestroyQuietlyAsync(session).ConfigureAwait(false);
            throw;
        }
        if (acquired)
        {
            return new LeaseGrant(session, _ttl);
        }
        await DestroyQuietlyAsync(session).ConfigureAwait(false);
        _logger.SessionDiscarded(session, _key);
        var holder = await PrimaryInfoAsync(cancellationToken).ConfigureAwait(false);
        throw new LeaseHeldException(holder, holder is null
            ? $"consul refused the lock on {_key}: it is in its lock-delay after the previous holder's session ended, or was taken and given up meanwhile"
            : null);
    }

    /// <inheritdoc />
    public async Task<LeaseGrant> AcquireExistingAsync(string leaseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        await RenewSessionAsync(leaseId, cancellationToken).ConfigureAwait(false);
        if (!await KvBoolAsync($"{_keyPath}?acquire={Uri.EscapeDataString(leaseId)}", PrimaryInfoJson.Encode(Self), cancellationToken).ConfigureAwait(false))
        {
            throw new LeaseHeldException(await PrimaryInfoAsync(cancellationToken).ConfigureAwait(false), $"the handed-over consul session {leaseId} cannot take {_key}");
        }
        return new LeaseGrant(leaseId, _ttl);
    }

    /// <inheritdoc />
    public Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return RenewSessionAsync(lease.Id, cancellationToken);
    }

    /// <inheritdoc />
    public async Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var session = Uri.EscapeDataString(lease.Id);
        // Released first, so that destroying the session neither deletes the key nor starts a lock-delay.
        var release = await _client.SendAsync(HttpMethod.Put, $"{_keyPath}?release={session}", null, cancellationToken).ConfigureAwait(false);
        if (!release.IsSuccess && release.Status != HttpStatusCode.NotFound)
        {
            throw _client.Unexpected(HttpMethod.Put, _keyPath, release);
        }
        var destroy = await _client.SendAsync(HttpMethod.Put, $"v1/session/destroy/{session}", null, cancellationToken).ConfigureAwait(false);
        if (!destroy.IsSuccess && destroy.Status != HttpStatusCode.NotFound)
        {
            throw _client.Unexpected(HttpMethod.Put, "v1/session/destroy", destroy);
        }
    }

    /// <inheritdoc />
    public async Task<PrimaryInfo?> PrimaryInfoAsync(CancellationToken cancellationToken)
    {
        var response = await _client.SendAsync(HttpMethod.Get, _keyPath, null, cancellationToken).ConfigureAwait(false);
        return Holder(response);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Blocking queries on the key: each waits up to <see cref="ConsulLeaserOptions.WatchWait"/>
    /// for its index to pass the last one seen; an index that goes back starts over from 0, as
    /// Consul's documentation asks. Only changes of the holder are yielded.
    /// </remarks>
    public async IAsyncEnumerable<PrimaryInfo?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var wait = $"{Math.Max(1, (long)_options.WatchWait.TotalMilliseconds)}ms";
        ulong index = 0;
        var first = true;
        PrimaryInfo? last = null;
        while (true)
        {
            var query = index == 0 ? _keyPath : $"{_keyPath}?index={index}&wait={wait}";
            // Consul adds up to a sixteenth of the wait as jitter.
            var response = await _client.SendAsync(HttpMethod.Get, query, null, cancellationToken, index == 0 ? default : _options.WatchWait * 17 / 16)
                .ConfigureAwait(false);
            var holder = Holder(response);
            if (response.Index < index)
            {
                _logger.IndexReset(_key, index, response.Index);
                index = 0;
            }
            else
            {
                index = Math.Max(response.Index, 1);
            }
            if (first || !Equals(holder, last))
            {
                first = false;
                last = holder;
                yield return holder;
            }
        }
    }

    /// <inheritdoc />
    public async Task<string?> ClusterIdAsync(CancellationToken cancellationToken)
    {
        var response = await _client.SendAsync(HttpMethod.Get, _clusterIdPath + "?raw", null, cancellationToken).ConfigureAwait(false);
        if (response.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccess)
        {
            throw _client.Unexpected(HttpMethod.Get, _clusterIdPath, response);
        }
        var id = response.Text.Trim();
        return id.Length == 0 ? null : id;
    }

    /// <inheritdoc />
    /// <remarks>Written only if the key does not exist (<c>?cas=0</c>), so two first primaries cannot both set one.</remarks>
    public async Task SetClusterIdAsync(string clusterId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        if (await KvBoolAsync(_clusterIdPath + "?cas=0", Encoding.UTF8.GetBytes(clusterId), cancellationToken).ConfigureAwait(false))
        {
            return;
        }
        var existing = await ClusterIdAsync(cancellationToken).ConfigureAwait(false);
        if (existing != clusterId)
        {
            throw new LeaseException($"cluster already initialized, cannot set cluster id: consul key {_key}/clusterid holds {existing}");
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task RegisterNodeAsync(CancellationToken cancellationToken)
    {
        if (_node is null || _registered)
        {
            return;
        }
        var body = JsonSerializer.SerializeToUtf8Bytes(new CatalogRegisterRequest { Node = _node }, ConsulJsonContext.Default.CatalogRegisterRequest);
        var response = await _client.SendAsync(HttpMethod.Put, "v1/catalog/register", body, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw new LeaseException($"register node \"{_node}\": {_client.Unexpected(HttpMethod.Put, "v1/catalog/register", response).Message}");
        }
        _registered = true;
        _logger.NodeRegistered(_node);
    }

    private async Task<string> CreateSessionAsync(CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new SessionCreateRequest
        {
            Node = _node,
            TTL = GoDurationText(_ttl),
            LockDelay = $"{(long)_lockDelay.TotalMilliseconds}ms",
        }, ConsulJsonContext.Default.SessionCreateRequest);
        var response = await _client.SendAsync(HttpMethod.Put, "v1/session/create", body, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw _client.Unexpected(HttpMethod.Put, "v1/session/create", response);
        }
        SessionCreateResponse? created;
        try
        {
            created = JsonSerializer.Deserialize(response.Body, ConsulJsonContext.Default.SessionCreateResponse);
        }
        catch (JsonException ex)
        {
            throw new LeaseException($"consul at {_client.Address}: unexpected answer to session create: {ex.Message}", ex);
        }
        return created?.ID is { Length: > 0 } id ? id : throw new LeaseException($"consul at {_client.Address} created a session without an ID");
    }

    private async Task RenewSessionAsync(string session, CancellationToken cancellationToken)
    {
        var path = $"v1/session/renew/{Uri.EscapeDataString(session)}";
        var response = await _client.SendAsync(HttpMethod.Put, path, null, cancellationToken).ConfigureAwait(false);
        if (response.Status == HttpStatusCode.NotFound)
        {
            throw new LeaseExpiredException($"consul session {session} has expired or was destroyed");
        }
        if (!response.IsSuccess)
        {
            throw _client.Unexpected(HttpMethod.Put, "v1/session/renew", response);
        }
    }

    /// <summary>A KV write that answers <c>true</c> or <c>false</c> (acquire, CAS).</summary>
    private async Task<bool> KvBoolAsync(string pathAndQuery, byte[] body, CancellationToken cancellationToken)
    {
        var response = await _client.SendAsync(HttpMethod.Put, pathAndQuery, body, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccess)
        {
            throw _client.Unexpected(HttpMethod.Put, pathAndQuery, response);
        }
        return response.Text.Trim() switch
        {
            "true" => true,
            "false" => false,
            var other => throw new LeaseException($"consul at {_client.Address}: a KV write answered \"{other}\", want true or false"),
        };
    }

    private async Task DestroyQuietlyAsync(string session)
    {
        try
        {
            // Bounded by the client's request timeout.
            await _client.SendAsync(HttpMethod.Put, $"v1/session/destroy/{Uri.EscapeDataString(session)}", null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LeaseException or OperationCanceledException)
        {
            // It expires after its TTL anyway.
        }
    }

    /// <summary>The holder in a <c>GET /v1/kv/KEY</c> answer: none for 404 or an empty value.</summary>
    private PrimaryInfo? Holder(ConsulResponse response)
    {
        if (response.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!response.IsSuccess)
        {
            throw _client.Unexpected(HttpMethod.Get, _keyPath, response);
        }
        List<KvEntry>? entries;
        try
        {
            entries = JsonSerializer.Deserialize(response.Body, ConsulJsonContext.Default.ListKvEntry);
        }
        catch (JsonException ex)
        {
            throw new LeaseException($"consul at {_client.Address}: unexpected answer for {_key}: {ex.Message}", ex);
        }
        return entries is [{ Value: { Length: > 0 } value }, ..] ? PrimaryInfoJson.Decode(value) : null;
    }

    /// <summary>The ACL token in a URL's user-info (<c>http://:TOKEN@host</c> or <c>user:TOKEN@</c>).</summary>
    private static string? TokenOf(Uri url)
    {
        var colon = url.UserInfo.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 && colon < url.UserInfo.Length - 1 ? Uri.UnescapeDataString(url.UserInfo[(colon + 1)..]) : null;
    }

    /// <summary>Joins key parts as Go's <c>path.Join</c> does (no empty, <c>.</c> or duplicate separators; <c>..</c> removes one), without a leading slash as Consul's KV API takes keys.</summary>
    internal static string JoinPath(params string[] parts)
    {
        var segments = new List<string>();
        foreach (var part in parts)
        {
            foreach (var segment in part.Split('/'))
            {
                if (segment is "" or ".")
                {
                    continue;
                }
                if (segment == "..")
                {
                    if (segments.Count > 0)
                    {
                        segments.RemoveAt(segments.Count - 1);
                    }
                    continue;
                }
                segments.Add(segment);
            }
        }
        return string.Join('/', segments);
    }

    private static string Escape(string key) => string.Join('/', key.Split('/').Select(Uri.EscapeDataString));

    /// <summary>A duration as Go prints it (<c>10s</c>, <c>1m0s</c>, <c>1h0m0s</c>, <c>1.5s</c>, <c>500ms</c>).</summary>
    internal static string GoDurationText(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1))
        {
            return $"{value.TotalMilliseconds.ToString("0.######", CultureInfo.InvariantCulture)}ms";
        }
        var seconds = (value - TimeSpan.FromMinutes(Math.Floor(value.TotalMinutes))).TotalSeconds.ToString("0.#########", CultureInfo.InvariantCulture) + "s";
        if (value < TimeSpan.FromMinutes(1))
        {
            return seconds;
        }
        var hours = (long)value.TotalHours;
        var minutes = value.Minutes;
        return hours > 0 ? $"{hours}h{minutes}m{seconds}" : $"{minutes}m{seconds}";
    }
}
