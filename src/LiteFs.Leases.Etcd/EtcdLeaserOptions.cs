using LiteFs.Core.Leases;

namespace LiteFs.Leases.Etcd;

/// <summary>How an <see cref="EtcdLeaser"/> reaches etcd and what it writes there (<c>lease.etcd</c> and the common <c>lease</c> keys).</summary>
public sealed record EtcdLeaserOptions
{
    /// <summary>The shortest TTL accepted: etcd itself grants no lease shorter than about 1.5 election timeouts (2 s by default).</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);

    /// <summary><c>lease.etcd.endpoints</c>: etcd client URLs (<c>http://</c> or <c>https://</c>), tried in order; the next on a connection failure.</summary>
    public required IReadOnlyList<string> Endpoints { get; init; }

    /// <summary><c>lease.etcd.key</c>: the lease key, e.g. <c>/litefs/my-app/primary</c>; the cluster ID lives at <c>KEY/clusterid</c>.</summary>
    public required string Key { get; init; }

    /// <summary><c>lease.etcd.ttl</c>: the lease's time to live, in whole seconds (etcd's unit), at least <see cref="MinTtl"/>.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>lease.hostname</c>: this node's name as other nodes show it.</summary>
    public required string Hostname { get; init; }

    /// <summary><c>lease.advertise-url</c>: this node's API URL, where replicas connect.</summary>
    public required string AdvertiseUrl { get; init; }

    /// <summary><c>lease.etcd.username</c>: with a password, authenticate (<c>/v3/auth/authenticate</c>) and send the token with every request.</summary>
    public string? Username { get; init; }

    /// <summary><c>lease.etcd.password</c>.</summary>
    public string? Password { get; init; }

    /// <summary><c>lease.etcd.ca-file</c>: PEM file of the CA that signed the etcd servers' certificates (https endpoints); otherwise the system's roots.</summary>
    public string? CaFile { get; init; }

    /// <summary>The longest one request may take before the endpoint counts as unresponsive.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A watch stream silent for this long is opened again (after reading the key afresh), so a
    /// connection that died without closing cannot hide a change of primary for long.
    /// </summary>
    public TimeSpan WatchIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>This node as written into the lease key.</summary>
    internal PrimaryInfo Self => new(Hostname, AdvertiseUrl);
}
