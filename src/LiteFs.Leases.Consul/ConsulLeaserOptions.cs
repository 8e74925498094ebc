namespace LiteFs.Leases.Consul;

/// <summary>How a <see cref="ConsulLeaser"/> reaches Consul and what it writes there (<c>lease.consul</c> and the common <c>lease</c> keys).</summary>
public sealed record ConsulLeaserOptions
{
    /// <summary>Upstream's default session TTL.</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromSeconds(10);

    /// <summary>Upstream's default lock-delay.</summary>
    public static readonly TimeSpan DefaultLockDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <c>lease.consul.url</c>: Consul's base URL (<c>http</c> or <c>https</c>). A path becomes a key
    /// prefix (and the node is registered as <c>PREFIX/litefs</c>); a password in the user-info part
    /// (<c>http://:TOKEN@consul:8500</c>) is the ACL token.
    /// </summary>
    public required string Url { get; init; }

    /// <summary><c>lease.consul.key</c>: the KV key of the lease, e.g. <c>litefs/primary</c>; the cluster ID lives at <c>KEY/clusterid</c>.</summary>
    public required string Key { get; init; }

    /// <summary><c>lease.consul.ttl</c>: the session TTL; zero or less means <see cref="DefaultTtl"/> (as upstream).</summary>
    public TimeSpan Ttl { get; init; } = DefaultTtl;

    /// <summary><c>lease.consul.lock-delay</c>: the session lock-delay; zero or less means <see cref="DefaultLockDelay"/> (as upstream).</summary>
    public TimeSpan LockDelay { get; init; } = DefaultLockDelay;

    /// <summary><c>lease.hostname</c>: this node's name as other nodes show it.</summary>
    public required string Hostname { get; init; }

    /// <summary><c>lease.advertise-url</c>: this node's API URL, where replicas connect.</summary>
    public required string AdvertiseUrl { get; init; }

    /// <summary>The ACL token when the URL carries none (the composition root passes <c>CONSUL_HTTP_TOKEN</c>).</summary>
    public string? Token { get; init; }

    /// <summary>The longest one request may take (a watch's blocking query gets its wait on top).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one blocking query of the watch waits for a change before asking again.</summary>
    public TimeSpan WatchWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The TTL in use: <see cref="Ttl"/>, or the default for zero or less.</summary>
    internal TimeSpan EffectiveTtl => Ttl > TimeSpan.Zero ? Ttl : DefaultTtl;

    /// <summary>The lock-delay in use.</summary>
    internal TimeSpan EffectiveLockDelay => LockDelay > TimeSpan.Zero ? LockDelay : DefaultLockDelay;
}
