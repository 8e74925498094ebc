using System.Collections.Concurrent;
using System.Globalization;
using LiteFs.Ltx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Core;

/// <summary>How a <see cref="Store"/> is set up (the <c>data</c> and <c>lease</c> settings that concern it).</summary>
public sealed record StoreOptions
{
    /// <summary>The data directory.</summary>
    public required string DataDir { get; init; }

    /// <summary>LZ4-compress LTX files this node creates.</summary>
    public bool Compress { get; init; } = true;

    /// <summary>Minimum age before an LTX file may be deleted; zero disables retention.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often retention runs; zero disables it.</summary>
    public TimeSpan RetentionMonitorInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The lease: who is primary.</summary>
    public required ILease Lease { get; init; }

    /// <summary>
    /// A candidate of a lease that moves (Consul, etcd): it starts as a replica, but its data may be
    /// the only copy of what it committed as an earlier primary, so start-up recovers it as a
    /// primary would (committed WAL transactions recorded, nothing discarded on its own judgement).
    /// A replica that diverged is brought back by its primary's snapshot.
    /// </summary>
    public bool MayBecomePrimary { get; init; }

    /// <summary>
    /// Called once the node has stopped writing after a fatal failure (a committed transaction
    /// that cannot be recorded, a verified file that cannot be applied): the composition root
    /// decides what follows (the command unmounts, ends the streams and exits with status 99).
    /// Called on the thread that failed; it must not block.
    /// </summary>
    public Action<FatalDatabaseException>? OnFatal { get; init; }
}

/// <summary>
/// A node's databases: the data directory (<c>clusterid</c>, <c>dbs/NAME/</c>), their opening and
/// recovery at start-up, the role this node plays, retention, and the notifications that
/// replication and the API subscribe to.
/// </summary>
public sealed partial class Store : IDbHost, IDisposable
{
    private readonly ConcurrentDictionary<string, Db> _dbs = new(StringComparer.Ordinal);
    private readonly StoreOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _logger;
    private readonly Committer _committer = new();
    private readonly TransactionFeed _feed = new();
    private Task? _retention;
    private Task? _haltExpiry;
    private Task? _diskFullRetry;
    private IDisposable? _dataDirLock;

    // True while Open recovers the databases of a node that may become primary (MayBecomePrimary):
    // recovery then keeps what a primary keeps. Written by Open only, before anything else runs.
    private volatile bool _recoveringAsCandidate;

    // Owns ClusterId's changes: the replica's stream adopts it, the lease monitor stores a new one.
    private readonly Lock _clusterIdLock = new();

    /// <summary>
    /// Creates a store; nothing is read until <see cref="Open"/>. The store and its databases log
    /// to their own categories of <paramref name="loggerFactory"/>.
    /// </summary>
    public Store(StoreOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        _options = options;
        LoggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = LoggerFactory.CreateLogger<Store>();
        if (options.Lease.IsPrimary)
        {
            _primaryTimestamp = 0;
            _ready.TrySetResult();
        }
        Time = time ?? TimeProvider.System;
        Role = new NodeRole(options.Lease.IsPrimary ? Core.Role.Primary : Core.Role.Replica);
        Role.Changed += OnRoleChanged;
        Span<byte> id = stackalloc byte[8];
        Posix.FillRandom(id);
        NodeId = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(id);
    }

    /// <summary>This process's node ID, new at every start.</summary>
    public ulong NodeId { get; }

    /// <summary>The node ID as upstream writes it: 16 uppercase hex digits.</summary>
    public string NodeIdText => NodeId.ToString("X16", CultureInfo.InvariantCulture);

    /// <summary>The cluster ID (<c>LFSC</c> + 16 uppercase hex), once known.</summary>
    public string? ClusterId { get; private set; }

    /// <summary>The data directory.</summary>
    public string DataDir => _options.DataDir;

    /// <summary>Whether this node is the primary, and may write (<see cref="NodeRole"/>).</summary>
    public NodeRole Role { get; }

    /// <summary>Whether this node is the primary.</summary>
    public bool IsPrimary => Role.IsPrimary;

    /// <summary>The lease.</summary>
    public ILease Lease => _options.Lease;

    /// <inheritdoc />
    public bool Compress => _options.Compress;

    /// <inheritdoc />
    public TimeProvider Time { get; }

    /// <inheritdoc />
    public ILoggerFactory LoggerFactory { get; }

    /// <inheritdoc />
    public ICacheInvalidator Invalidator { get; set; } = NullCacheInvalidator.Instance;

    /// <summary>
    /// How this node, as a replica, asks its primary for HALT locks and sends the transactions
    /// committed under them; null: write forwarding is not available (set once by the
    /// composition root before the mount serves).
    /// </summary>
    public Replication.IHaltClient? HaltClient { get; set; }

    /// <summary>Write forwarding's counters and events (HALT locks, forwarded transactions, imports).</summary>
    public WriteForwardingActivity Forwarding { get; } = new();

    /// <summary>The primary's API URL as the lease names it, if known.</summary>
    public string? PrimaryUrl => _options.Lease.IsPrimary ? null : _options.Lease.PrimaryAdvertiseUrl;

    /// <summary>
    /// Raised after every transaction committed or applied, with its database and new position:
    /// outside the database's monitor, one at a time, each database's in order. A subscriber runs
    /// on the thread that recorded the transaction (SQLite's, on the primary): it must be quick.
    /// </summary>
    public event Action<Db, Pos>? Transaction
    {
        add => _feed.Transaction += value;
        remove => _feed.Transaction -= value;
    }

    /// <summary>A subscription to the names of changed databases (a replica's stream); dispose it to end it.</summary>
    public ChangeSubscription Subscribe(CancellationToken cancellationToken) => _feed.Subscribe(cancellationToken);

    /// <summary>The databases, sorted by name.</summary>
    public IReadOnlyList<Db> Databases => [.. _dbs.Values.OrderBy(d => d.Name, StringComparer.Ordinal)];

    /// <summary>A database by name, or null.</summary>
    public Db? Find(string name) => _dbs.GetValueOrDefault(name);

    /// <summary>
    /// Opens the data directory and every database in it (recovering each), then starts
    /// retention. The first database that fails to open fails the whole start.
    /// </summary>
    public void Open()
    {
        Directory.CreateDirectory(DataDir);
        // Two nodes on one data directory would corrupt each other's databases.
        _dataDirLock = Posix.TryLockDirectory(DataDir)
            ?? throw new LiteFsException($"data directory {DataDir} is in use by another litefs process; stop it or choose another data.dir");
        // Node IDs are per process since v0.5; an older version's persisted ID is removed.
        File.Delete(Path.Combine(DataDir, "id"));
        ClusterId = ReadOrCreateClusterId();
        var dbsDir = Path.Combine(DataDir, "dbs");
        Directory.CreateDirectory(dbsDir);
        _recoveringAsCandidate = _options.MayBecomePrimary && !IsPrimary;
        try
        {
            OpenDatabases(dbsDir);
        }
        finally
        {
            _recoveringAsCandidate = false;
        }
        if (_options.Retention > TimeSpan.Zero && _options.RetentionMonitorInterval > TimeSpan.Zero)
        {
            _retention = Task.Run(() => EveryAsync(_options.RetentionMonitorInterval, EnforceRetention, _stopping.Token));
        }
        _haltExpiry = Task.Run(() => EveryAsync(HaltExpiryInterval, ExpireHaltLocks, _stopping.Token));
        _diskFullRetry = Task.Run(() => EveryAsync(DiskFullRetryInterval, RetryAfterDiskFull, _stopping.Token));
    }

    private void OpenDatabases(string dbsDir)
    {
        foreach (var dir in Directory.EnumerateDirectories(dbsDir).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            var db = new Db(this, name, dir);
            try
            {
                db.Open();
            }
            catch (Exception ex) when (!IsPrimary && !_options.MayBecomePrimary && ex is not OutOfMemoryException)
            {
                // A replica's copy is only a copy: one that cannot be recovered (its machine
                // stopped between syncs) is discarded and replicated again from a snapshot.
                db.Dispose();
                LogDiscarded(name, ex.Message);
                Directory.Delete(dir, recursive: true);
                Directory.CreateDirectory(Path.Combine(dir, "ltx"));
                db = new Db(this, name, dir);
                db.Open();
            }
            catch (Exception ex)
            {
                db.Dispose();
                throw new LiteFsException($"cannot open database {name}: {ex.Message}", ex);
            }
            _dbs[name] = db;
            LogDatabaseOpened(name, db.Pos);
        }
    }

    /// <summary>How often a database whose writes are refused for lack of space checks for room again.</summary>
    public static readonly TimeSpan DiskFullRetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>Lets each database whose transactions could not be recorded for lack of space try again once there is room.</summary>
    private void RetryAfterDiskFull()
    {
        foreach (var db in _dbs.Values)
        {
            db.RetryAfterDiskFull();
        }
    }

    /// <summary>
    /// Makes a new LTX history for one database from the database as it is, on a stopped node
    /// (<c>litefs recover</c>): the previous LTX files are moved to <c>dbs/NAME/ltx.replaced.TIME/</c>
    /// and a snapshot after the highest TXID ever used becomes the history, so every replica
    /// takes the database whole. For the cases start-up refuses because it cannot tell what was
    /// committed. Only the named database is opened; the store is not opened.
    /// </summary>
    /// <returns>The database's new position and where its previous LTX files went (null when it had none).</returns>
    public (Pos Pos, string? SetAside) RecoverHistory(string name)
    {
        if (!IsValidName(name))
        {
            throw new LiteFsException(LiteFsError.Invalid, $"invalid database name \"{name}\"");
        }
        var dir = Path.Combine(DataDir, "dbs", name);
        if (!Directory.Exists(dir))
        {
            throw new LiteFsException(LiteFsError.NotFound, $"database {name} not found: {dir} does not exist");
        }
        using var dataDirLock = Posix.TryLockDirectory(DataDir)
            ?? throw new LiteFsException($"data directory {DataDir} is in use by another litefs process; stop the node first");
        var db = new Db(this, name, dir);
        try
        {
            return db.RecoverHistory();
        }
        finally
        {
            db.Dispose();
        }
    }

    /// <summary>How often granted HALT locks are checked for expiry.</summary>
    public static readonly TimeSpan HaltExpiryInterval = TimeSpan.FromSeconds(5);



    /// <summary>Returns the database named <paramref name="name"/>, creating its folder if it is new.</summary>
    public Db GetOrCreate(string name)
    {
        if (!IsValidName(name))
        {
            throw new LiteFsException(LiteFsError.Invalid, $"invalid database name \"{name}\"");
        }
        return _dbs.GetOrAdd(name, n =>
        {
            var dir = Path.Combine(DataDir, "dbs", n);
            Directory.CreateDirectory(Path.Combine(dir, "ltx"));
            LogDatabaseCreated(n);
            return new Db(this, n, dir);
        });
    }

    /// <summary>Whether a name can be a database: not empty, no separator, not a reserved suffix.</summary>
    public static bool IsValidName(string name) =>
        name.Length > 0 && name is not ("." or "..") && !name.Contains('/', StringComparison.Ordinal) && !name.Contains('\0', StringComparison.Ordinal)
        && !name.StartsWith('.') && !HasReservedSuffix(name);

    /// <summary>Whether a name ends with one of the mount's auxiliary-file suffixes.</summary>
    public static bool HasReservedSuffix(string name) =>
        name.EndsWith("-journal", StringComparison.Ordinal) || name.EndsWith("-wal", StringComparison.Ordinal) || name.EndsWith("-shm", StringComparison.Ordinal)
        || name.EndsWith("-pos", StringComparison.Ordinal) || name.EndsWith("-lock", StringComparison.Ordinal);

    /// <inheritdoc />
    /// <remarks>While a candidate's start-up recovers its databases, true: it keeps what a primary keeps.</remarks>
    public bool IsWritable(Db db) => Role.CanWrite || _recoveringAsCandidate
        || (db is not null && db.Halt.Remote is not null && !Role.IsPrimary && Role.Failure is null);

    void IDbHost.OnTransaction(Db db, in LtxHeader header, Pos pos) => _feed.Enqueue(db, pos);

    void IDbHost.DeliverTransactions() => _feed.Deliver();

    void IDbHost.ScheduleCommit(WalRecorder recorder) => _committer.Schedule(recorder);

    /// <summary>Holds the committer's passes until the result is disposed (see <see cref="Committer.Pause"/>).</summary>
    internal IDisposable PauseCommitter() => _committer.Pause();

    void IDbHost.Fatal(FatalDatabaseException ex)
    {
        if (Role.Fail(ex))
        {
            LogFatal(ex.Message);
            _options.OnFatal?.Invoke(ex);
        }
    }

    private string? ReadOrCreateClusterId()
    {
        var path = Path.Combine(DataDir, "clusterid");
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (!IsValidClusterId(text))
            {
                throw new LiteFsException($"invalid cluster id in {path}: \"{text}\" (want LFSC followed by 16 hex digits); fix or remove the file");
            }
            return text;
        }
        if (!IsPrimary)
        {
            // A replica adopts its primary's ID from the stream.
            return null;
        }
        Span<byte> random = stackalloc byte[8];
        Posix.FillRandom(random);
        var id = "LFSC" + Convert.ToHexString(random);
        WriteClusterId(id);
        return id;
    }

    private void WriteClusterId(string id)
    {
        var path = Path.Combine(DataDir, "clusterid");
        var temp = path + ".tmp";
        File.WriteAllText(temp, id + "\n");
        using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.FlushToDisk(handle);
        }
        File.Move(temp, path, overwrite: true);
        Posix.FsyncDirectory(DataDir);
    }

    /// <summary>Whether <paramref name="id"/> is <c>LFSC</c> followed by 16 hex digits.</summary>
    public static bool IsValidClusterId(string id) =>
        id.Length == 20 && id.StartsWith("LFSC", StringComparison.Ordinal) && ulong.TryParse(id.AsSpan(4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _);

    /// <summary>Runs <paramref name="action"/> every <paramref name="interval"/> on the store's clock until the store stops.</summary>
    private async Task EveryAsync(TimeSpan interval, Action action, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                action();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Deletes LTX files older than the retention period (never a database's newest).</summary>
    public void EnforceRetention()
    {
        var cutoff = Time.GetUtcNow() - _options.Retention;
        foreach (var db in _dbs.Values)
        {
            try
            {
                var removed = db.EnforceRetention(cutoff);
                if (removed > 0)
                {
                    LogRetention(db.Name, removed);
                }
            }
            catch (IOException ex)
            {
                LogRetentionFailed(db.Name, ex.Message);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleaseRemoteHalts();
        Role.Stop();
        _stopping.Cancel();
        try
        {
            _retention?.Wait(TimeSpan.FromSeconds(5));
            _haltExpiry?.Wait(TimeSpan.FromSeconds(5));
            _diskFullRetry?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        // Queued passes finish first; each database then records what is left as it closes.
        _committer.Dispose();
        foreach (var db in _dbs.Values)
        {
            db.Dispose();
        }
        _dataDirLock?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(1, LogLevel.Information, "database {Name} opened at position {Pos}")]
    private partial void LogDatabaseOpened(string name, Pos pos);

    [LoggerMessage(2, LogLevel.Information, "database {Name} created")]
    private partial void LogDatabaseCreated(string name);

    [LoggerMessage(3, LogLevel.Critical, "fatal: {Message}; this node stops writing")]
    private partial void LogFatal(string message);

    [LoggerMessage(4, LogLevel.Debug, "retention: removed {Count} LTX file(s) of {Name}")]
    private partial void LogRetention(string name, int count);

    [LoggerMessage(5, LogLevel.Warning, "retention of {Name} failed: {Reason}")]
    private partial void LogRetentionFailed(string name, string reason);

    [LoggerMessage(6, LogLevel.Warning, "database {Name} cannot be recovered on this replica ({Reason}); discarded, it will be replicated again")]
    private partial void LogDiscarded(string name, string reason);

    [LoggerMessage(7, LogLevel.Information, "cluster id {ClusterId} adopted from the primary")]
    private partial void LogClusterIdAdopted(string clusterId);

    [LoggerMessage(8, LogLevel.Information, "database {Name}: HALT lock {Id} held from the primary at {Pos}; writes here are forwarded to it")]
    private partial void LogHaltAcquired(string name, long id, Pos pos);

    [LoggerMessage(9, LogLevel.Information, "database {Name}: HALT lock {Id} released")]
    private partial void LogHaltReleased(string name, long id);

    [LoggerMessage(11, LogLevel.Information, "cluster id {ClusterId} stored with the lease by this node")]
    private partial void LogClusterIdSet(string clusterId);

    [LoggerMessage(12, LogLevel.Warning, "handoff: a SQLite transaction on {Name} still writes after {Seconds}s; recording what is committed without waiting for it")]
    private partial void LogHandoffWriterBusy(string name, double seconds);

    [LoggerMessage(13, LogLevel.Information, "database {Name}: HALT lock {Id} granted to a replica ended: this node is no longer primary")]
    private partial void LogHaltGrantEnded(string name, long id);

    [LoggerMessage(10, LogLevel.Warning, "database {Name}: cannot give HALT lock {Id} back to the primary ({Reason}); it ends with its TTL")]
    private partial void LogHaltReleaseFailed(string name, long id, string reason);
}
