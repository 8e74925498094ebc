using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using LiteFs.Core.Leases;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Leases.Etcd;

/// <summary>
/// The primary lease in etcd (v3, through its JSON gateway). The primary holds an etcd lease
/// (granted with the TTL, kept alive with <c>/v3/lease/keepalive</c>) and the lease key attached
/// to it, created only if absent (a transaction comparing the key's create revision with 0);
/// the key's value is the holder's primary-info JSON (<see cref="PrimaryInfoJson"/>), so it
/// disappears with the etcd lease when that expires or is revoked. The cluster ID is the
/// plain-text value of <c>KEY/clusterid</c>, attached to no lease. Replicas watch the key
/// (<c>/v3/watch</c>). A handoff passes the etcd lease ID: the next primary keeps it alive
/// and rewrites the key under the same lease.
/// </summary>
public sealed class EtcdLeaser : ILeaser
{
    private readonly EtcdLeaserOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EtcdClient _client;
    private readonly byte[] _key;
    private readonly byte[] _clusterIdKey;
    private readonly long _ttlSeconds;

    /// <summary>Creates the leaser; nothing is sent until the first call.</summary>
    /// <exception cref="ArgumentException">An option is invalid (no endpoint, no key, a TTL under a second or not whole seconds).</exception>
    public EtcdLeaser(EtcdLeaserOptions options, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Key))
        {
            throw new ArgumentException("an etcd lease key is required (lease.etcd.key)", nameof(options));
        }
        if (options.Ttl < EtcdLeaserOptions.MinTtl || options.Ttl.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentException($"the etcd lease ttl must be whole seconds, at least {EtcdLeaserOptions.MinTtl.TotalSeconds:0}s (lease.etcd.ttl)", nameof(options));
        }
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<EtcdLeaser>();
        _client = new EtcdClient(options, _time, _logger);
        _key = Encoding.UTF8.GetBytes(options.Key);
        _clusterIdKey = Encoding.UTF8.GetBytes(options.Key.TrimEnd('/') + "/clusterid");
        _ttlSeconds = (long)options.Ttl.TotalSeconds;
        Self = options.Self;
    }

    /// <inheritdoc />
    public string Type => "etcd";

    /// <inheritdoc />
    public PrimaryInfo Self { get; }

    /// <inheritdoc />
    public bool SupportsHandoff => true;

    /// <inheritdoc />
    /// <remarks>
    /// The TTL counted on is the configured one even when etcd grants a longer one (it raises
    /// TTLs below its minimum): the node stops writing earlier, never later.
    /// </remarks>
    public async Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken)
    {
        var granted = await _client.CallAsync("v3/lease/grant", new LeaseRequest { Ttl = _ttlSeconds },
            EtcdJsonContext.Default.LeaseRequest, EtcdJsonContext.Default.LeaseResponse, cancellationToken).ConfigureAwait(false);
        if (granted.Id == 0)
        {
            throw new LeaseException($"etcd at {_client.EndpointList} granted no lease");
        }
        TxnResponse txn;
        try
        {
            txn = await PutIfAsync(new Compare { Key = _key, Target = "CREATE", CreateRevision = 0 }, granted.Id, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RevokeQuietlyAsync(granted.Id).ConfigureAwait(false);
            throw;
        }
        if (txn.Succeeded)
        {
            return new LeaseGrant(FormatId(granted.Id), _options.Ttl);
        }
        // Someone holds the key: the lease granted for nothing goes back at once.
        await RevokeQuietlyAsync(granted.Id).ConfigureAwait(false);
        var holder = Holder(txn.Responses?.FirstOrDefault()?.Range);
        throw new LeaseHeldException(holder, holder is null ? $"etcd key {_options.Key} exists without primary info" : null);
    }

    /// <inheritdoc />
    public async Task<LeaseGrant> AcquireExistingAsync(string leaseId, CancellationToken cancellationToken)
    {
        var id = ParseId(leaseId);
        await KeepAliveAsync(id, cancellationToken).ConfigureAwait(false);
        // The key still under that lease: rewrite it with this node's info.
        var txn = await PutIfAsync(new Compare { Key = _key, Target = "LEASE", Lease = id }, id, cancellationToken).ConfigureAwait(false);
        if (!txn.Succeeded)
        {
            // Gone meanwhile: take it afresh under the handed-over lease if nobody else did.
            txn = await PutIfAsync(new Compare { Key = _key, Target = "CREATE", CreateRevision = 0 }, id, cancellationToken).ConfigureAwait(false);
            if (!txn.Succeeded)
            {
                throw new LeaseHeldException(Holder(txn.Responses?.FirstOrDefault()?.Range), $"the handed-over etcd lease {leaseId} no longer holds {_options.Key}");
            }
        }
        return new LeaseGrant(leaseId, _options.Ttl);
    }

    /// <inheritdoc />
    public Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return KeepAliveAsync(ParseId(lease.Id), cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Revokes the etcd lease, which deletes the key with it.</remarks>
    public async Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        try
        {
            await _client.CallAsync("v3/lease/revoke", new LeaseRequest { Id = ParseId(lease.Id) },
                EtcdJsonContext.Default.LeaseRequest, EtcdJsonContext.Default.LeaseResponse, cancellationToken).ConfigureAwait(false);
        }
        catch (EtcdErrorException ex) when (ex.Code == EtcdErrorException.NotFound)
        {
            // Expired already: nothing to give up.
        }
    }

    /// <inheritdoc />
    public async Task<PrimaryInfo?> PrimaryInfoAsync(CancellationToken cancellationToken) =>
        Holder(await RangeAsync(_key, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    /// <remarks>
    /// Reads the key, then watches it from the next revision; when the stream ends, is cancelled by
    /// etcd (compaction, an expired token) or stays silent for <see cref="EtcdLeaserOptions.WatchIdleTimeout"/>,
    /// reads the key again and watches anew. Only changes of the holder are yielded.
    /// </remarks>
    public async IAsyncEnumerable<PrimaryInfo?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = true;
        PrimaryInfo? last = null;
        while (true)
        {
            var range = await RangeAsync(_key, cancellationToken).ConfigureAwait(false);
            var holder = Holder(range);
            if (first || !Equals(holder, last))
            {
                first = false;
                last = holder;
                yield return holder;
            }
            var (response, endpoint) = await _client.OpenStreamAsync("v3/watch",
                new WatchRequest { CreateRequest = new WatchCreateRequest { Key = _key, StartRevision = (range.Header?.Revision ?? 0) + 1 } },
                EtcdJsonContext.Default.WatchRequest, cancellationToken).ConfigureAwait(false);
            using (response)
            {
                var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(body, Encoding.UTF8);
                while (true)
                {
                    var (result, ended) = await NextWatchResultAsync(reader, endpoint, cancellationToken).ConfigureAwait(false);
                    if (ended is not null)
                    {
                        _logger.WatchRestarting(_options.Key, ended);
                        break;
                    }
                    foreach (var change in result!.Events ?? [])
                    {
                        holder = change.Type == "DELETE" ? null : DecodeQuietly(change.Kv?.Value);
                        if (!Equals(holder, last))
                        {
                            last = holder;
                            yield return holder;
                        }
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public async Task<string?> ClusterIdAsync(CancellationToken cancellationToken)
    {
        var range = await RangeAsync(_clusterIdKey, cancellationToken).ConfigureAwait(false);
        return ClusterIdOf(range);
    }

    /// <inheritdoc />
    public async Task SetClusterIdAsync(string clusterId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        var txn = await _client.CallAsync("v3/kv/txn", new TxnRequest
        {
            Compare = [new Compare { Key = _clusterIdKey, Target = "CREATE", CreateRevision = 0 }],
            Success = [new RequestOp { Put = new PutRequest { Key = _clusterIdKey, Value = Encoding.UTF8.GetBytes(clusterId) } }],
            Failure = [new RequestOp { Range = new RangeRequest { Key = _clusterIdKey } }],
        }, EtcdJsonContext.Default.TxnRequest, EtcdJsonContext.Default.TxnResponse, cancellationToken).ConfigureAwait(false);
        if (!txn.Succeeded && ClusterIdOf(txn.Responses?.FirstOrDefault()?.Range) is { } existing && existing != clusterId)
        {
            throw new LeaseException($"cluster already initialized, cannot set cluster id: etcd key {_options.Key}/clusterid holds {existing}");
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The next message with events, or why the stream ended (then the watch starts over).</summary>
    private async Task<(WatchResult? Result, string? Ended)> NextWatchResultAsync(StreamReader reader, Uri endpoint, CancellationToken cancellationToken)
    {
        while (true)
        {
            string? line;
            using (var idle = new CancellationTokenSource(_options.WatchIdleTimeout, _time))
            using (var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token))
            {
                try
                {
                    line = await reader.ReadLineAsync(bounded.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return (null, $"silent for {_options.WatchIdleTimeout.TotalSeconds:0.###}s");
                }
                catch (IOException ex)
                {
                    throw new LeaseException($"etcd watch at {EtcdClient.Show(endpoint)} broke: {ex.Message}", ex);
                }
                catch (HttpRequestException ex)
                {
                    throw new LeaseException($"etcd watch at {EtcdClient.Show(endpoint)} broke: {ex.Message}", ex);
                }
            }
            if (line is null)
            {
                return (null, "the stream ended");
            }
            if (line.Length == 0)
            {
                continue;
            }
            WatchResponse? message;
            try
            {
                message = JsonSerializer.Deserialize(line, EtcdJsonContext.Default.WatchResponse);
            }
            catch (JsonException ex)
            {
                throw new LeaseException($"etcd watch at {EtcdClient.Show(endpoint)}: unexpected message: {ex.Message}", ex);
            }
            if (message?.Error is { } error)
            {
                throw new EtcdErrorException(EtcdClient.Show(endpoint), error.Code, error.Error ?? error.Message ?? "watch failed");
            }
            var result = message?.Result;
            if (result is null || result.Created && !result.Canceled && (result.Events is null || result.Events.Count == 0))
            {
                continue;
            }
            if (result.Canceled)
            {
                var reason = result.CancelReason ?? "";
                if (reason.Contains("auth token", StringComparison.Ordinal) && _client.Token is { } token)
                {
                    _client.ForgetToken(token);
                    return (null, "the auth token expired");
                }
                if (result.CompactRevision > 0)
                {
                    return (null, $"revision compacted to {result.CompactRevision}");
                }
                throw new LeaseException($"etcd at {EtcdClient.Show(endpoint)} cancelled the watch of {_options.Key}: {reason}");
            }
            return (result, null);
        }
    }

    private async Task KeepAliveAsync(long id, CancellationToken cancellationToken)
    {
        var answer = await _client.CallAsync("v3/lease/keepalive", new LeaseRequest { Id = id },
            EtcdJsonContext.Default.LeaseRequest, EtcdJsonContext.Default.KeepAliveResponse, cancellationToken).ConfigureAwait(false);
        if (answer.Result is not { Ttl: > 0 })
        {
            throw new LeaseExpiredException($"etcd lease {FormatId(id)} has expired or was revoked");
        }
    }

    private Task<TxnResponse> PutIfAsync(Compare compare, long leaseId, CancellationToken cancellationToken) =>
        _client.CallAsync("v3/kv/txn", new TxnRequest
        {
            Compare = [compare],
            Success = [new RequestOp { Put = new PutRequest { Key = _key, Value = PrimaryInfoJson.Encode(Self), Lease = leaseId } }],
            Failure = [new RequestOp { Range = new RangeRequest { Key = _key } }],
        }, EtcdJsonContext.Default.TxnRequest, EtcdJsonContext.Default.TxnResponse, cancellationToken);

    private Task<RangeResponse> RangeAsync(byte[] key, CancellationToken cancellationToken) =>
        _client.CallAsync("v3/kv/range", new RangeRequest { Key = key }, EtcdJsonContext.Default.RangeRequest, EtcdJsonContext.Default.RangeResponse, cancellationToken);

    private async Task RevokeQuietlyAsync(long id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
            await _client.CallAsync("v3/lease/revoke", new LeaseRequest { Id = id },
                EtcdJsonContext.Default.LeaseRequest, EtcdJsonContext.Default.LeaseResponse, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LeaseException or OperationCanceledException)
        {
            // It expires after its TTL anyway.
        }
    }

    private static PrimaryInfo? Holder(RangeResponse? range) =>
        range?.Kvs is [var kv, ..] ? PrimaryInfoJson.Decode(kv.Value ?? []) : null;

    /// <summary>A watched value that does not parse counts as a holder without details, not as a broken watch.</summary>
    private static PrimaryInfo? DecodeQuietly(byte[]? value)
    {
        try
        {
            return PrimaryInfoJson.Decode(value ?? []);
        }
        catch (LeaseException)
        {
            return new PrimaryInfo("", "");
        }
    }

    private static string? ClusterIdOf(RangeResponse? range) =>
        range?.Kvs is [var kv, ..] && kv.Value is { Length: > 0 } value ? Encoding.UTF8.GetString(value).Trim() : null;

    private static string FormatId(long id) => id.ToString(CultureInfo.InvariantCulture);

    private static long ParseId(string id) =>
        long.TryParse(id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value != 0
            ? value
            : throw new LeaseExpiredException($"\"{id}\" is not an etcd lease ID");
}
