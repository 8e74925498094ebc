namespace LiteFs.Core.Leases;

/// <summary>
/// Who holds the primary lease, as every node reads it from the lease's backend: the value the
/// holder wrote when it acquired the lease.
/// </summary>
/// <param name="Hostname">The holder's <c>lease.hostname</c>, as other nodes show it (<c>.primary</c>, <c>/info</c>).</param>
/// <param name="AdvertiseUrl">The holder's <c>lease.advertise-url</c>: where replicas reach its node API.</param>
public sealed record PrimaryInfo(string Hostname, string AdvertiseUrl)
{
    /// <summary>Whether this is the same node as <paramref name="other"/>: nodes are told apart by their advertise URL.</summary>
    public bool SameNode(PrimaryInfo? other) =>
        other is not null && string.Equals(AdvertiseUrl, other.AdvertiseUrl, StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => Hostname.Length > 0 ? $"{Hostname} ({AdvertiseUrl})" : AdvertiseUrl;
}

/// <summary>A lease this node holds: the backend's identifier of it, and how long it lasts unless renewed.</summary>
/// <param name="Id">
/// The backend's lease identifier (a Consul session ID, an etcd lease ID in decimal, "static"); it
/// is what a handoff passes to the next primary.
/// </param>
/// <param name="Ttl">
/// How long after a renewal request was sent the lease is sure to last; <see cref="Timeout.InfiniteTimeSpan"/>
/// for a lease that never expires (static).
/// </param>
public sealed record LeaseGrant(string Id, TimeSpan Ttl)
{
    /// <summary>Whether the lease never expires, so it needs no renewal.</summary>
    public bool IsPermanent => Ttl == Timeout.InfiniteTimeSpan;
}

/// <summary>
/// A lease backend, as every lease type implements it: the primary lease (one key, held by at
/// most one node), who holds it, changes of the holder, and the cluster ID stored beside it.
/// Methods may be called from any thread; an implementation is safe for concurrent calls.
/// <see cref="LeaseMonitor"/> drives one; nothing else should, since it alone decides the
/// node's role from the lease.
/// </summary>
/// <remarks>
/// Errors: <see cref="LeaseHeldException"/> when another node holds the lease,
/// <see cref="LeaseExpiredException"/> when a lease this node held is gone, and
/// <see cref="LeaseException"/> for a backend that cannot be reached or answers unexpectedly
/// (never a hang: every call is bounded by the implementation's request timeout).
/// </remarks>
public interface ILeaser : IAsyncDisposable
{
    /// <summary>The <c>lease.type</c> this implements: <c>static</c>, <c>consul</c>, <c>etcd</c>.</summary>
    string Type { get; }

    /// <summary>This node as it writes itself into the lease when it acquires it.</summary>
    PrimaryInfo Self { get; }

    /// <summary>Whether a held lease can be passed to another node (<see cref="AcquireExistingAsync"/>).</summary>
    bool SupportsHandoff { get; }

    /// <summary>
    /// Takes the lease if nobody holds it (atomically: of two nodes trying at once, one wins),
    /// writing <see cref="Self"/> as the holder.
    /// </summary>
    /// <exception cref="LeaseHeldException">Another node holds it; carries the holder when known.</exception>
    Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Takes over a lease another node handed to this one (its <see cref="LeaseGrant.Id"/> came in
    /// a HANDOFF frame): renews it and writes <see cref="Self"/> as the holder.
    /// </summary>
    /// <exception cref="LeaseExpiredException">The lease no longer exists.</exception>
    /// <exception cref="NotSupportedException">The backend cannot hand leases over.</exception>
    Task<LeaseGrant> AcquireExistingAsync(string leaseId, CancellationToken cancellationToken);

    /// <summary>Extends a held lease by its TTL, counted from about when this request was sent.</summary>
    /// <exception cref="LeaseExpiredException">The lease is gone: this node must stop acting as primary at once.</exception>
    Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken);

    /// <summary>Gives a held lease up, so another node can take it at once. Releasing a lease that is already gone succeeds.</summary>
    Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken);

    /// <summary>The current holder, or null when nobody holds the lease.</summary>
    Task<PrimaryInfo?> PrimaryInfoAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The holder now, then the holder after every change, until cancelled (a watch where the
    /// backend has one, a poll otherwise). Ends with an exception when the backend cannot be
    /// reached; the caller starts it again.
    /// </summary>
    IAsyncEnumerable<PrimaryInfo?> WatchAsync(CancellationToken cancellationToken);

    /// <summary>The cluster ID stored in the backend, or null (none stored, or a backend that stores none).</summary>
    Task<string?> ClusterIdAsync(CancellationToken cancellationToken);

    /// <summary>Stores the cluster ID if none is stored yet.</summary>
    /// <exception cref="LeaseException">Another cluster ID is already stored.</exception>
    Task SetClusterIdAsync(string clusterId, CancellationToken cancellationToken);
}
