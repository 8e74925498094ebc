using LiteFs.Cli.Config;
using LiteFs.Core.Leases;
using LiteFs.Leases.Consul;
using LiteFs.Leases.Etcd;
using Microsoft.Extensions.Logging;

namespace LiteFs.Cli;

/// <summary>The leases that move (Consul, etcd) as <c>litefs.yml</c> describes them.</summary>
internal static class LeaseSetup
{
    /// <summary>
    /// For a lease that moves, this node's own hostname and advertise URL where the file leaves
    /// them empty, as upstream's Consul lease does: the OS host name, and
    /// <c>http://HOSTNAME:PORT</c> with <c>http.addr</c>'s port. A static lease's values name
    /// the primary and stay as they are.
    /// </summary>
    public static LiteFsConfig WithOwnIdentity(LiteFsConfig config)
    {
        if (config.Lease.Type == LeaseConfig.StaticType)
        {
            return config;
        }
        var hostname = config.Lease.Hostname.Length > 0 ? config.Lease.Hostname : Environment.MachineName;
        var url = config.Lease.AdvertiseUrl.Length > 0
            ? config.Lease.AdvertiseUrl
            : $"http://{hostname}:{Http.ListenAddress.Parse(config.Http.Addr).Port}";
        return config with { Lease = config.Lease with { Hostname = hostname, AdvertiseUrl = url } };
    }

    /// <summary>The leaser of <c>lease.type</c> (consul or etcd), for a config passed through <see cref="WithOwnIdentity"/>.</summary>
    public static ILeaser CreateLeaser(LeaseConfig lease, ILoggerFactory loggerFactory) => lease.Type switch
    {
        LeaseConfig.ConsulType => new ConsulLeaser(new ConsulLeaserOptions
        {
            Url = lease.Consul.Url,
            Key = lease.Consul.Key,
            Ttl = lease.Consul.Ttl,
            LockDelay = lease.Consul.LockDelay,
            Hostname = lease.Hostname,
            AdvertiseUrl = lease.AdvertiseUrl,
            // Upstream's Consul client reads it too; a token in the URL wins.
            Token = Environment.GetEnvironmentVariable("CONSUL_HTTP_TOKEN"),
        }, TimeProvider.System, loggerFactory),
        LeaseConfig.EtcdType => new EtcdLeaser(new EtcdLeaserOptions
        {
            Endpoints = lease.Etcd.Endpoints,
            Key = lease.Etcd.Key,
            Ttl = lease.Etcd.Ttl,
            Hostname = lease.Hostname,
            AdvertiseUrl = lease.AdvertiseUrl,
            Username = lease.Etcd.Username.Length > 0 ? lease.Etcd.Username : null,
            Password = lease.Etcd.Password.Length > 0 ? lease.Etcd.Password : null,
            CaFile = lease.Etcd.CaFile.Length > 0 ? lease.Etcd.CaFile : null,
        }, TimeProvider.System, loggerFactory),
        _ => throw new ArgumentException($"lease type '{lease.Type}' has no leaser", nameof(lease)),
    };

    /// <summary>The lease's TTL, which bounds how long a safe promotion waits for a better candidate.</summary>
    public static TimeSpan Ttl(LeaseConfig lease) => lease.Type == LeaseConfig.EtcdType
        ? lease.Etcd.Ttl
        : lease.Consul.Ttl > TimeSpan.Zero ? lease.Consul.Ttl : ConsulLeaserOptions.DefaultTtl;
}

/// <summary>
/// The safe-promotion check (<c>lease.safe-promotion</c>, on by default): a candidate that
/// followed a primary but never caught up with it in that primary's term (its READY never came
/// on a stream opened during the term) would become primary with less than the cluster has, so
/// it leaves the lease, for a grace period after the primary went away, to a candidate that did
/// catch up. After the grace period it takes the lease anyway: a cluster without a primary is
/// worse than one that lost the transactions this node had not received.
/// </summary>
/// <remarks>
/// A term is what the lease's holder does between two changes of the holder: the same node
/// again after the lease had no holder is a new term, whose transactions this node has not
/// seen however well it followed the term before. Having been primary itself, the node holds
/// everything it committed and has no primary to wait for. <see cref="OnPrimaryChanged"/> and
/// <see cref="MayPromoteAsync"/> run on the lease monitor's loop, <see cref="OnCaughtUp"/> on
/// the replication loop; <c>_lock</c> owns the three fields.
/// </remarks>
internal sealed class PromotionGuard(PrimaryInfo self, TimeSpan grace, TimeProvider time, Func<string?>? streamingFrom = null)
{
    private readonly Lock _lock = new();

    /// <summary>The last other node that held the lease since this node was primary; null before any. <c>_lock</c>.</summary>
    private PrimaryInfo? _lastPrimary;

    /// <summary>When <see cref="_lastPrimary"/> gave the lease up, while nobody else holds it. <c>_lock</c>.</summary>
    private DateTimeOffset? _primaryGoneAt;

    /// <summary>Whether READY came from <see cref="_lastPrimary"/> during its current term. <c>_lock</c>.</summary>
    private bool _caughtUp;

    /// <summary>Follows the lease's holder.</summary>
    public void OnPrimaryChanged(PrimaryInfo? primary)
    {
        lock (_lock)
        {
            if (primary is null)
            {
                if (_lastPrimary is not null)
                {
                    _primaryGoneAt ??= time.GetUtcNow();
                }
                return;
            }
            if (self.SameNode(primary))
            {
                _lastPrimary = null;
                _primaryGoneAt = null;
                _caughtUp = false;
                return;
            }
            if (!primary.SameNode(_lastPrimary) || _primaryGoneAt is not null)
            {
                // A new term: nothing this node received before covers it.
                _caughtUp = false;
            }
            _lastPrimary = primary;
            _primaryGoneAt = null;
        }
    }

    /// <summary>The primary at <paramref name="url"/> sent READY: this node holds what it had when the stream began.</summary>
    public void OnCaughtUp(string url)
    {
        lock (_lock)
        {
            if (_lastPrimary is { } last && _primaryGoneAt is null && string.Equals(last.AdvertiseUrl, url, StringComparison.Ordinal))
            {
                _caughtUp = true;
            }
        }
    }

    /// <summary>Whether this node may take the lease now.</summary>
    public ValueTask<PromotionDecision> MayPromoteAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var within = _primaryGoneAt is { } gone && time.GetUtcNow() - gone < grace;
            // The last primary's stream is still open: having lost its lease it sends what it
            // committed, then END; taking the lease before that would drop those transactions.
            if (within && streamingFrom?.Invoke() is { } from)
            {
                return ValueTask.FromResult(PromotionDecision.Decline(
                    $"still receiving the last transactions of the last primary{(from.Length > 0 ? ", " + from : "")}; its stream ends first"));
            }
            if (within && _lastPrimary is { } last && !_caughtUp)
            {
                return ValueTask.FromResult(PromotionDecision.Decline(
                    $"this node never caught up with the last primary, {last}, in its last term; leaving the lease to a node that did for {GoDuration.Format(grace)}"));
            }
            return ValueTask.FromResult(PromotionDecision.Allow);
        }
    }
}
