using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Store
{
    /// <summary>How long acquiring a HALT lock may take, the primary's wait and catching up included.</summary>
    public static readonly TimeSpan HaltAcquireTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long the primary may take to apply one forwarded transaction.</summary>
    public static readonly TimeSpan ForwardTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Takes the HALT lock of <paramref name="db"/> for this node under <paramref name="id"/>: on
    /// the primary at once, with nothing recorded (the primary may always write); on a replica,
    /// the lock is borrowed from the primary, recorded, and the call returns once the replica
    /// caught up to the position the lock was granted at, exactly. From then on the database is
    /// writable here, and each transaction is forwarded to the primary before SQLite's commit
    /// returns. A failure after the grant gives the lock back and forgets it.
    /// </summary>
    /// <exception cref="LiteFsException">No primary or client, the primary refused, the replica went past the lock's position or differs from it, or the time ran out.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public async Task AcquireHaltAsync(Db db, long id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (Role.IsPrimary)
        {
            return;
        }
        var (url, client) = ForwardingTarget("no primary available for remote transaction");
        using var timeout = new CancellationTokenSource(HaltAcquireTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        HaltLockInfo info;
        try
        {
            info = await client.AcquireHaltAsync(url, NodeId, db.Name, id, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new LiteFsException(LiteFsError.Io, "acquire halt lock: context deadline exceeded");
        }
        db.Halt.RecordRemote(info);
        LogHaltAcquired(db.Name, id, info.Pos);
        Forwarding.Record(ForwardingEvent.HaltAcquired, db.Name, id);
        try
        {
            await CatchUpToAsync(db, info.Pos, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            db.Halt.ClearRemote(id);
            await GiveBackAsync(db, url, client, id).ConfigureAwait(false);
            if (ex is OperationCanceledException && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new LiteFsException(LiteFsError.Io, "acquire halt lock: context deadline exceeded");
            }
            throw;
        }
    }

    /// <summary>Waits until the replica's position is <paramref name="target"/> exactly.</summary>
    private async Task CatchUpToAsync(Db db, Pos target, CancellationToken cancellationToken)
    {
        while (true)
        {
            var pos = db.Pos;
            if (pos.TxId.Value > target.TxId.Value)
            {
                throw new LiteFsException(LiteFsError.Io, "target transaction id exceeded");
            }
            if (pos.TxId == target.TxId)
            {
                if (pos.PostApplyChecksum != target.PostApplyChecksum)
                {
                    throw new LiteFsException(LiteFsError.Io, "target checksum mismatch");
                }
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(2), Time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Releases this node's HALT lock of <paramref name="db"/> taken under <paramref name="id"/>:
    /// if it is still recorded, the database is brought to a clean state under the node's write
    /// lock (a journal left is rolled back, the WAL checkpointed) and the record forgotten; then,
    /// on a replica, the primary is told. On the primary, nothing.
    /// </summary>
    /// <exception cref="LiteFsException">The primary could not be told (it releases the lock when its TTL ends).</exception>
    public async Task ReleaseHaltAsync(Db db, long id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (db.Halt.Remote is { } held && held.Id == id)
        {
            await Task.Run(() =>
            {
                using (db.AcquireWriteLock(cancellationToken))
                {
                    db.PrepareForHalt();
                    db.Halt.ClearRemote(id);
                }
            }, cancellationToken).ConfigureAwait(false);
            LogHaltReleased(db.Name, id);
            Forwarding.Record(ForwardingEvent.HaltGivenBack, db.Name, id);
        }
        if (Role.IsPrimary)
        {
            return;
        }
        var (url, client) = ForwardingTarget("no primary available to release remote halt lock");
        await client.ReleaseHaltAsync(url, NodeId, db.Name, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives a lock back after a failed acquisition; a failure here only means the primary's TTL releases it.</summary>
    private async Task GiveBackAsync(Db db, string url, IHaltClient client, long id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(HaltAcquireTimeout, Time);
            await client.ReleaseHaltAsync(url, NodeId, db.Name, id, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LiteFsException or OperationCanceledException or ObjectDisposedException)
        {
            LogHaltReleaseFailed(db.Name, id, ex.Message);
        }
    }

    /// <summary>Releases every HALT lock granted here whose expiry has passed.</summary>
    public void ExpireHaltLocks()
    {
        foreach (var db in _dbs.Values)
        {
            if (db.Halt.ExpireDue() is { } expired)
            {
                Forwarding.Record(ForwardingEvent.HaltExpired, db.Name, expired);
            }
        }
    }

    /// <summary>On shutdown: gives back every HALT lock this replica still holds.</summary>
    private void ReleaseRemoteHalts()
    {
        if (HaltClient is not { } client || PrimaryUrl is not { } url)
        {
            return;
        }
        foreach (var db in _dbs.Values)
        {
            if (db.Halt.ClearRemote() is { } held)
            {
                GiveBackAsync(db, url, client, held.Id).GetAwaiter().GetResult();
            }
        }
    }

    void IDbHost.ForwardTransaction(Db db, long lockId, Stream ltx)
    {
        var (url, client) = ForwardingTarget("no primary available for remote transaction");
        using var timeout = new CancellationTokenSource(ForwardTimeout, Time);
        try
        {
            // On SQLite's thread, which waits for the answer: the commit returns once the primary has it.
            client.CommitAsync(url, NodeId, db.Name, lockId, ltx, timeout.Token).GetAwaiter().GetResult();
            Forwarding.Record(ForwardingEvent.TransactionForwarded, db.Name, lockId);
        }
        catch (OperationCanceledException)
        {
            throw new ForwardRefusedException($"{db.Name}: the primary did not apply the forwarded transaction within {ForwardTimeout.TotalSeconds:0} s");
        }
        catch (LiteFsException ex)
        {
            throw new ForwardRefusedException($"{db.Name}: the primary refused the forwarded transaction: {ex.Message}");
        }
    }

    private (string Url, IHaltClient Client) ForwardingTarget(string noPrimary)
    {
        if (PrimaryUrl is not { Length: > 0 } url || HaltClient is not { } client)
        {
            throw new LiteFsException(LiteFsError.Io, noPrimary);
        }
        return (url, client);
    }
}
