namespace LiteFs.Core.Leases;

/// <summary>Whether this node may take the lease now, and why not.</summary>
/// <param name="Allowed">True to go ahead.</param>
/// <param name="Reason">Why not, for the log (empty when allowed).</param>
public readonly record struct PromotionDecision(bool Allowed, string Reason)
{
    /// <summary>Go ahead.</summary>
    public static PromotionDecision Allow { get; } = new(true, "");

    /// <summary>Not now, because of <paramref name="reason"/>.</summary>
    public static PromotionDecision Decline(string reason) => new(false, reason);
}

/// <summary>How a <see cref="LeaseMonitor"/> runs (the <c>lease</c> settings that concern it, and the composition root's hooks).</summary>
public sealed record LeaseMonitorOptions
{
    /// <summary><c>lease.candidate</c>: whether this node may become primary at all.</summary>
    public bool Candidate { get; init; } = true;

    /// <summary><c>lease.reconnect-delay</c>: pause after a lease error, a refused acquisition or a broken watch.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>lease.demote-delay</c>: after a requested demotion or a handoff, how long before trying to become primary again.</summary>
    public TimeSpan DemoteDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After a failed renewal, the pause before the next attempt (upstream's 1 s).</summary>
    public TimeSpan RenewRetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long before the lease could expire the node stops writing when renewals fail; null for
    /// a tenth of the TTL, at most 1 s. The lease's expiry is counted from when the last successful
    /// renewal request was sent, which is no later than when the backend started its TTL.
    /// </summary>
    public TimeSpan? ExpiryMargin { get; init; }

    /// <summary>How long a handoff may take to pass the lease ID to the next primary's stream before it is abandoned (upstream's 5 s).</summary>
    public TimeSpan HandoffTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long giving the lease up on shutdown or demotion may take before the node stops waiting for the backend.</summary>
    public TimeSpan ReleaseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <see cref="LeaseMonitor.RequestPromotionAsync"/> waits to become primary after the handoff was requested (upstream's 10 s).</summary>
    public TimeSpan PromoteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Asked before every attempt to take the lease: whether this node may become primary now
    /// (e.g. not while it holds no data, or is behind a peer it can see). The reason of a refusal
    /// is logged, and the attempt is made again after <see cref="ReconnectDelay"/>. Null allows always.
    /// </summary>
    public Func<CancellationToken, ValueTask<PromotionDecision>>? MayPromote { get; init; }

    /// <summary>
    /// This node's cluster ID (the store's), or null if it has none yet. A node whose ID differs
    /// from the backend's never takes the lease; a node without one (an empty node) does not take
    /// it while the backend has one, unless <see cref="EmptyNodeJoinsFirst"/> is off.
    /// </summary>
    public Func<string?> LocalClusterId { get; init; } = static () => null;

    /// <summary>
    /// Part of safe promotion (<c>lease.safe-promotion</c>): a node without a cluster ID, while
    /// the backend has one, joins a primary first (and adopts the ID from its stream) instead of
    /// becoming primary over a cluster whose data it does not hold. False: it takes the lease when
    /// nobody holds it and adopts the backend's ID (<see cref="AdoptClusterId"/>), as upstream.
    /// </summary>
    public bool EmptyNodeJoinsFirst { get; init; } = true;

    /// <summary>
    /// Called when this node, first primary of a new cluster, stored a newly made cluster ID in
    /// the backend, or, without <see cref="EmptyNodeJoinsFirst"/>, took the lease of a cluster
    /// whose ID it did not have: the store persists it (<see cref="Store.CheckClusterId"/> adopts
    /// an ID from a primary's stream).
    /// </summary>
    public Action<string>? AdoptClusterId { get; init; }

    /// <summary>
    /// Asks the current primary to hand its lease to this node (<c>POST /handoff</c> in the
    /// composition root), for <see cref="LeaseMonitor.RequestPromotionAsync"/> (<c>lease.promote</c>).
    /// </summary>
    public Func<PrimaryInfo, CancellationToken, Task>? RequestHandoff { get; init; }
}
