using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>
/// A replica's requests to its primary for write forwarding: borrowing a database's HALT lock,
/// sending each transaction committed under it, and giving the lock back. Implemented over the
/// node API (<c>POST /halt</c>, <c>POST /tx</c>, <c>DELETE /halt</c>).
/// </summary>
public interface IHaltClient
{
    /// <summary>Asks the primary for the HALT lock of <paramref name="name"/> under <paramref name="id"/>; returns the lock granted.</summary>
    Task<HaltLockInfo> AcquireHaltAsync(string primaryUrl, ulong nodeId, string name, long id, CancellationToken cancellationToken);

    /// <summary>Gives the HALT lock back (the primary does nothing if it is not held under that ID).</summary>
    Task ReleaseHaltAsync(string primaryUrl, ulong nodeId, string name, long id, CancellationToken cancellationToken);

    /// <summary>Sends one LTX file committed under the lock; returns once the primary applied it.</summary>
    Task CommitAsync(string primaryUrl, ulong nodeId, string name, long lockId, Stream ltx, CancellationToken cancellationToken);
}
