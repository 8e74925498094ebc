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
/// followed a primary in this run but never caught up with it (the primary's READY never came)
/// would become primary with less than the cluster has, so it leaves the lease, for a grace
/// period after the primary went away, to a candidate that did catch up. After the grace period
/// it takes the lease anyway: a cluster without a primary is worse than one that lost the
/// transactions this node had not received.
/// </summary>
/// <remarks>
/// <paramref name="caughtUp"/> says whether the node caught up with a primary in this run (the
/// store is ready). Both methods run on the lease monitor's loop (<see cref="LeaseMonitorOptions.MayPromote"/>,
/// <see cref="LeaseMonitor.PrimaryChanged"/>), which owns the two fields.
/// </remarks>
internal sealed class PromotionGuard(Func<bool> caughtUp, PrimaryInfo self, TimeSpan grace, TimeProvider time, Func<string?>? streamingFrom = null)
{
    private PrimaryInfo? _lastPrimary;
    private DateTimeOffset? _primaryGoneAt;

    /// <summary>Follows the lease's holder.</summary>
    public void OnPrimaryChanged(PrimaryInfo? primary)
    {
        if (primary is not null && !self.SameNode(primary))
        {
            _lastPrimary = primary;
            _primaryGoneAt = null;
        }
        else if (primary is null && _lastPrimary is not null)
        {
            _primaryGoneAt ??= time.GetUtcNow();
        }
    }

    /// <summary>Whether this node may take the lease now.</summary>
    public ValueTask<PromotionDecision> MayPromoteAsync(CancellationToken cancellationToken)
    {
        // The last primary's stream is still open: having lost its lease it sends what it
        // committed, then END; taking the lease before that would drop those transactions.
        if (streamingFrom?.Invoke() is { } from && _primaryGoneAt is { } left && time.GetUtcNow() - left < grace)
        {
            return ValueTask.FromResult(PromotionDecision.Decline(
                $"still receiving the last transactions of the last primary{(from.Length > 0 ? ", " + from : "")}; its stream ends first"));
        }
        if (_lastPrimary is { } last && !caughtUp() && _primaryGoneAt is { } gone && time.GetUtcNow() - gone < grace)
        {
            return ValueTask.FromResult(PromotionDecision.Decline(
                $"this node never caught up with the last primary, {last}; leaving the lease to a node that did for {GoDuration.Format(grace)}"));
        }
        return ValueTask.FromResult(PromotionDecision.Allow);
    }
}
