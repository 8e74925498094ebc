using System.Runtime.CompilerServices;
using LiteFs.Core.Leases;

namespace LiteFs.Core;

/// <summary>Who is primary. Static leases fix the role in configuration; others (Consul, etcd) come and go.</summary>
public interface ILease
{
    /// <summary>Whether this node holds the lease.</summary>
    bool IsPrimary { get; }

    /// <summary>The primary's hostname as other nodes should show it, if known.</summary>
    string? PrimaryHostname { get; }

    /// <summary>The primary's API URL, if known.</summary>
    string? PrimaryAdvertiseUrl { get; }
}

/// <summary>
/// A static lease: the candidate node is always primary; every other node is a replica of the
/// configured primary (<c>lease.hostname</c>, <c>lease.advertise-url</c> name the primary there).
/// As an <see cref="ILeaser"/> it is the lease type without a backend: the candidate's
/// acquisition always succeeds with a lease that never expires, anyone else's is refused with
/// the configured primary as holder; no handoff, no cluster-ID storage.
/// </summary>
public sealed record StaticLease(bool Candidate, string Hostname, string AdvertiseUrl) : ILease, ILeaser
{
    /// <inheritdoc />
    public bool IsPrimary => Candidate;

    /// <inheritdoc />
    public string? PrimaryHostname => Hostname;

    /// <inheritdoc />
    public string? PrimaryAdvertiseUrl => AdvertiseUrl;

    /// <inheritdoc />
    public string Type => "static";

    /// <inheritdoc />
    /// <remarks>
    /// On the candidate, this node. A static replica's settings name its primary, not itself, so
    /// there it is a node without a name or URL (it never acquires the lease).
    /// </remarks>
    public PrimaryInfo Self => Candidate ? new(Hostname, AdvertiseUrl) : new("", "");

    private PrimaryInfo Configured => new(Hostname, AdvertiseUrl);

    /// <inheritdoc />
    public bool SupportsHandoff => false;

    /// <inheritdoc />
    public Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken) =>
        Candidate
            ? Task.FromResult(new LeaseGrant(Type, Timeout.InfiniteTimeSpan))
            : Task.FromException<LeaseGrant>(new LeaseHeldException(Configured, "static lease: only the candidate node is primary"));

    /// <inheritdoc />
    public Task<LeaseGrant> AcquireExistingAsync(string leaseId, CancellationToken cancellationToken) =>
        Task.FromException<LeaseGrant>(new NotSupportedException("static lease handoff not supported"));

    /// <inheritdoc />
    public Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task<PrimaryInfo?> PrimaryInfoAsync(CancellationToken cancellationToken) => Task.FromResult<PrimaryInfo?>(Configured);

    /// <inheritdoc />
    /// <remarks>The configured primary, once: it never changes.</remarks>
    public async IAsyncEnumerable<PrimaryInfo?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return Configured;
        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<string?> ClusterIdAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    /// <inheritdoc />
    /// <remarks>Nothing is stored: the static primary keeps its own cluster ID and replicas adopt it from the stream.</remarks>
    public Task SetClusterIdAsync(string clusterId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
