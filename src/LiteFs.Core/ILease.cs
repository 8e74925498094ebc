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
/// </summary>
public sealed record StaticLease(bool Candidate, string Hostname, string AdvertiseUrl) : ILease
{
    /// <inheritdoc />
    public bool IsPrimary => Candidate;

    /// <inheritdoc />
    public string? PrimaryHostname => Hostname;

    /// <inheritdoc />
    public string? PrimaryAdvertiseUrl => AdvertiseUrl;
}
