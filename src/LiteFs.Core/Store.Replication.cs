using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Store
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _primaryTimestamp = -1;
    private int _subscribers;

    /// <summary>
    /// Why this replica is not following its primary, once its attempts failed several times in
    /// a row; null while it follows (and always on a primary). Written only by the replication
    /// loop's thread (<see cref="Replication.ReplicaClient"/>); read anywhere (volatile).
    /// </summary>
    private volatile string? _replicationFailure;

    /// <summary>
    /// Completes once the node may serve: at once on the primary, when the first READY frame
    /// arrives on a replica.
    /// </summary>
    public Task Ready => _ready.Task;

    /// <summary>Whether <see cref="Ready"/> has completed.</summary>
    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>
    /// False while this replica keeps failing to follow its primary (<see cref="ReplicationFailure"/>
    /// says why): its data may be falling behind, though it stays readable. Reported in
    /// <c>/info</c> and <c>/metrics</c>.
    /// </summary>
    public bool IsHealthy => _replicationFailure is null;

    /// <summary>Why this replica is unhealthy; null when it is not.</summary>
    public string? ReplicationFailure => _replicationFailure;

    /// <summary>Reports the replica unhealthy, with the reason (the replication loop only).</summary>
    public void ReportReplicationFailure(string reason) => _replicationFailure = reason;

    /// <summary>Reports the replica healthy again (the replication loop only).</summary>
    public void ClearReplicationFailure() => _replicationFailure = null;

    /// <summary>Marks the node ready (idempotent).</summary>
    public void MarkReady() => _ready.TrySetResult();

    /// <summary>
    /// The primary's clock as last heard: −1 when unknown, 0 on the primary itself, else the
    /// last heartbeat or applied LTX timestamp (milliseconds since the epoch).
    /// </summary>
    public long PrimaryTimestamp
    {
        get => Interlocked.Read(ref _primaryTimestamp);
        set => Interlocked.Exchange(ref _primaryTimestamp, value);
    }

    /// <summary>Replication lag: now minus the primary's last timestamp; zero on the primary or before anything was heard.</summary>
    public TimeSpan Lag
    {
        get
        {
            var ts = PrimaryTimestamp;
            return ts <= 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Max(0, Time.GetUtcNow().ToUnixTimeMilliseconds() - ts));
        }
    }

    /// <summary>
    /// The hostname of the primary this replica is attached to: set from the moment it starts
    /// connecting until the stream ends; null on the primary and while detached.
    /// </summary>
    public string? AttachedPrimaryHostname { get; set; }

    /// <summary>
    /// The hostname of the primary whose stream this replica has open: set once the primary
    /// accepted the stream (cluster ID checked), null on the primary and otherwise. Unlike
    /// <see cref="AttachedPrimaryHostname"/> it is never set by a connection attempt that fails,
    /// so the HTTP proxy takes it as "the primary is known".
    /// </summary>
    public string? ConnectedPrimaryHostname { get; set; }

    /// <summary>Replication streams currently served.</summary>
    public int SubscriberCount => Volatile.Read(ref _subscribers);

    /// <summary>Counts a replication stream for as long as the returned value is not disposed.</summary>
    public IDisposable TrackSubscriber()
    {
        Interlocked.Increment(ref _subscribers);
        return new Releaser(() => Interlocked.Decrement(ref _subscribers));
    }

    /// <summary>The positions of every database, as a replica reports them to its primary.</summary>
    public Dictionary<string, Pos> Positions() =>
        _dbs.Values.ToDictionary(d => d.Name, d => d.Pos, StringComparer.Ordinal);

    /// <summary>
    /// Adopts the primary's cluster ID on a replica that has none (persisted in
    /// <c>clusterid</c>), then checks it: a different ID means another cluster's primary.
    /// </summary>
    public void CheckClusterId(string? remote)
    {
        remote ??= "";
        lock (_clusterIdLock)
        {
            if (ClusterId is null or "" && remote.Length > 0)
            {
                if (!IsValidClusterId(remote))
                {
                    throw new LiteFsException($"invalid cluster id from primary: \"{remote}\"");
                }
                WriteClusterId(remote);
                ClusterId = remote;
                LogClusterIdAdopted(remote);
            }
            if (!string.Equals(ClusterId ?? "", remote, StringComparison.Ordinal))
            {
                throw new LiteFsException($"cannot stream from primary with a different cluster id: {ClusterId} <> {remote}");
            }
        }
    }

    /// <summary>
    /// Keeps the cluster ID this node, first primary of its cluster, stored beside the lease
    /// (<c>KEY/clusterid</c>): persisted in <c>clusterid</c>. Setting the ID the store already has
    /// does nothing; another one is refused.
    /// </summary>
    public void SetClusterId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!IsValidClusterId(id))
        {
            throw new LiteFsException($"invalid cluster id \"{id}\" (want LFSC followed by 16 hex digits)");
        }
        lock (_clusterIdLock)
        {
            if (string.Equals(ClusterId, id, StringComparison.Ordinal))
            {
                return;
            }
            if (ClusterId is { Length: > 0 } current)
            {
                throw new LiteFsException($"this node already belongs to cluster {current}, not {id}");
            }
            WriteClusterId(id);
            ClusterId = id;
            LogClusterIdSet(id);
        }
    }

    /// <summary>How long a handoff waits for the SQLite transaction in progress on a database before it records without it.</summary>
    public static readonly TimeSpan HandoffWriterTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A handoff, once this node stopped writing: waits, on each database, for a SQLite
    /// transaction still in progress (one writing through passthrough reaches its commit without
    /// the node) and records every transaction SQLite committed, so the HANDOFF frame follows all
    /// of them.
    /// </summary>
    public void SettleForHandoff(CancellationToken cancellationToken)
    {
        foreach (var db in Databases)
        {
            Db.LockSet? writer = null;
            try
            {
                writer = db.AcquireWriterLock(cancellationToken, HandoffWriterTimeout);
            }
            catch (TimeoutException)
            {
                LogHandoffWriterBusy(db.Name, HandoffWriterTimeout.TotalSeconds);
            }
            try
            {
                db.RecordCommitted();
            }
            finally
            {
                writer?.Dispose();
            }
        }
    }

    /// <summary>
    /// On a replica, before it follows a primary and then between files until it is done: a
    /// database whose WAL still holds this node's own frames (it was primary) has them
    /// checkpointed into its database file under the internal write lock, so its files are what
    /// a replica's are (and a later snapshot never lies under old frames). One whose readers keep
    /// the lock longer than <paramref name="patience"/> is left for the next attempt, or the next
    /// file applied to it. Returns false when any was left.
    /// </summary>
    public bool CheckpointOwnWals(CancellationToken cancellationToken, TimeSpan patience)
    {
        if (IsPrimary)
        {
            return true;
        }
        var done = true;
        foreach (var db in Databases)
        {
            if (db.Size(DbFileKind.Wal) <= Sqlite.WalHeader.Size)
            {
                continue;
            }
            if (db.Halt.Remote is not null)
            {
                // Written under the primary's HALT lock: its frames are forwarded, and go into
                // the database file with the first file applied after them.
                continue;
            }
            try
            {
                using var locks = db.AcquireWriteLock(cancellationToken, patience);
                if (IsPrimary)
                {
                    // Promoted while waiting: the WAL is this primary's own again.
                    return true;
                }
                // As before an applied file: pages SQLite dirtied through its SHM mapping are
                // written back before the node rewrites the header, or the write-back would put
                // the old header back and SQLite would go on appending to the emptied WAL.
                db.SyncShmWithKernel();
                db.CheckpointOwnWal();
                Invalidator.Flush();
            }
            catch (TimeoutException)
            {
                done = false;
            }
        }
        return done;
    }

    /// <summary>
    /// Follows the role (on the thread that changed it; quick): a new primary has no lag and is
    /// ready; a node that stops being primary gives back the HALT locks it granted (no replica's
    /// transaction may be applied now) and its lag counts again from the next primary.
    /// </summary>
    private void OnRoleChanged(RoleChange change)
    {
        if (change.Role == Core.Role.Primary && change.CanWrite)
        {
            PrimaryTimestamp = 0;
            MarkReady();
            return;
        }
        if (change.Role != Core.Role.Replica)
        {
            return;
        }
        PrimaryTimestamp = -1;
        foreach (var db in _dbs.Values)
        {
            if (db.Halt.Granted is { } granted && db.Halt.Release(granted.Id))
            {
                LogHaltGrantEnded(db.Name, granted.Id);
            }
        }
    }

    private sealed class Releaser(Action release) : IDisposable
    {
        private Action? _release = release;

        public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}
