using LiteFs.Ltx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Core.Replication;

/// <summary>How a replica follows its primary.</summary>
public sealed record ReplicaOptions
{
    /// <summary>Pause before connecting again after a stream ended or failed (<c>lease.reconnect-delay</c>).</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A stream silent for this long is dead (the primary sends a heartbeat every second).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Only these databases are replicated (<c>lease.databases</c>); empty means all.</summary>
    public IReadOnlyList<string> Databases { get; init; } = [];

    /// <summary>How often applied files are made durable with one syncfs (instead of an fsync per file).</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Called on the loop's thread with the lease ID of a HANDOFF frame: the primary hands its
    /// lease to this node, which takes it over (<see cref="Leases.LeaseMonitor.TakeOverAsync"/>);
    /// the loop then reconnects at once. Null ignores the lease ID.
    /// </summary>
    public Action<string>? OnHandoff { get; init; }

    /// <summary>
    /// Called on the loop's thread with the primary's URL each time its READY frame arrives: this
    /// replica holds every transaction that primary had when the stream began. Null ignores it.
    /// </summary>
    public Action<string>? OnCaughtUp { get; init; }
}

/// <summary>
/// A replica's replication loop: connects to the primary's <c>/stream</c> with its positions,
/// adopts or checks the cluster ID, applies each frame, and reconnects after the reconnect delay
/// whenever the stream ends, fails or stalls. Runs on its own thread from <see cref="Start"/>
/// until <see cref="Dispose"/>.
/// </summary>
public sealed partial class ReplicaClient : IDisposable
{
    /// <summary>Attempts failing in a row before the replica reports itself unhealthy (<see cref="Store.IsHealthy"/>).</summary>
    public const int UnhealthyAfter = 3;

    /// <summary>How long a former primary waits for its readers to checkpoint its own WAL frames before it follows the primary anyway.</summary>
    private static readonly TimeSpan OwnWalPatience = TimeSpan.FromSeconds(5);

    private readonly Store _store;
    private readonly IPrimaryClient _client;
    private readonly ReplicaOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private ITimer? _syncTimer;
    private int _unsynced;
    private long _lastActivity;
    private volatile PrimaryStream? _current;
    private int _disposed;

    /// <summary>Attempts in a row that failed before the primary's READY arrived. Loop thread.</summary>
    private int _failures;

    /// <summary>A former primary's own WAL frames were left in place (readers held the lock): tried again at each heartbeat. Loop thread.</summary>
    private bool _ownWalsLeft;

    /// <summary>Creates the loop; nothing happens until <see cref="Start"/>.</summary>
    public ReplicaClient(Store store, IPrimaryClient client, ReplicaOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _store = store;
        _client = client;
        _options = options ?? new ReplicaOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ReplicaClient>();
    }

    /// <summary>Whether a stream is open now.</summary>
    public bool IsConnected => _current is not null;

    /// <summary>
    /// Drops the open stream, if any: the loop connects again to the primary the lease names now
    /// (a lease that moved), or waits while this node is the primary.
    /// </summary>
    public void Reconnect() => _current?.Dispose();

    /// <summary>Starts following the primary.</summary>
    public void Start()
    {
        _syncTimer = _store.Time.CreateTimer(_ => SyncApplied(), null, _options.SyncInterval, _options.SyncInterval);
        _thread = new Thread(Loop) { IsBackground = true, Name = "litefs replica" };
        _thread.Start();
    }

    private void Loop()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var url = _store.Lease.PrimaryAdvertiseUrl;
            var handoff = false;
            if (_store.IsPrimary)
            {
                // A lease that moves made this node the primary: nothing to follow until it moves again.
            }
            else if (string.IsNullOrEmpty(url))
            {
                LogNoPrimary();
            }
            else
            {
                string? failure = null;
                try
                {
                    handoff = FollowOnce(url, token);
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    break;
                }
                catch (FatalDatabaseException)
                {
                    // The store has already decided the process's fate.
                    break;
                }
                catch (StreamProtocolException ex)
                {
                    // Bytes that are not frames (such as the text of an error the primary hit
                    // mid-stream): nothing after them can be trusted, so the stream is dropped.
                    failure = Describe(ex);
                    LogUnreadable(url, failure);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    failure = Describe(ex);
                    LogStreamError(url, failure);
                }
                CheckHealth(url, failure);
            }
            if (!handoff && !Pause(NextDelay(), token))
            {
                break;
            }
        }
    }

    /// <summary>
    /// The pause before the next attempt: the reconnect delay after a stream that worked, then
    /// doubling with each attempt that fails in a row, up to 5 s (or the delay itself if larger),
    /// so an unreachable primary is not hammered and a restarted one is found quickly.
    /// </summary>
    private TimeSpan NextDelay()
    {
        var failures = Math.Min(_failures, 16);
        var cap = Math.Max(_options.ReconnectDelay.Ticks, TimeSpan.FromSeconds(5).Ticks);
        return TimeSpan.FromTicks(Math.Min(cap, _options.ReconnectDelay.Ticks << Math.Max(0, failures - 1)));
    }

    /// <summary>Waits <paramref name="delay"/> on the store's clock; false when stopped meanwhile.</summary>
    private bool Pause(TimeSpan delay, CancellationToken token)
    {
        try
        {
            Task.Delay(delay, _store.Time, token).GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One connection: returns true when it ended with a handoff.</summary>
    private bool FollowOnce(string url, CancellationToken token)
    {
        // A former primary's own WAL frames go into its database files first (upstream's recovery between streams).
        _ownWalsLeft = !_store.CheckpointOwnWals(token, OwnWalPatience);
        var positions = _store.Positions();
        if (_options.Databases.Count > 0)
        {
            foreach (var name in positions.Keys.Where(n => !_options.Databases.Contains(n)).ToList())
            {
                positions.Remove(name);
            }
        }
        _store.AttachedPrimaryHostname = _store.Lease.PrimaryHostname;
        try
        {
            return Stream(url, positions, token);
        }
        finally
        {
            _store.ConnectedPrimaryHostname = null;
            _store.AttachedPrimaryHostname = null;
        }
    }

    private bool Stream(string url, Dictionary<string, Pos> positions, CancellationToken token)
    {
        _failures++;
        using var stream = _client.OpenStreamAsync(url, _store.NodeId, positions, _options.Databases, token).GetAwaiter().GetResult();
        _store.CheckClusterId(stream.ClusterId);
        _store.ConnectedPrimaryHostname = _store.Lease.PrimaryHostname ?? "";
        LogConnected(url, positions.Count);
        Touch();
        _current = stream;
        using var watchdog = _store.Time.CreateTimer(_ => CheckStall(stream), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        using var abort = token.Register(stream.Dispose);
        try
        {
            // Frames are read in pieces of a few bytes: one buffer between them and the transport.
            using var body = new BufferedStream(new BlockingReadStream(stream.Body), 64 * 1024);
            var reader = new StreamFrameReader(body);
            while (reader.Read() is { } frame)
            {
                Touch();
                if (frame.Type != StreamFrameType.Ltx)
                {
                    LogFrame(frame.Type);
                }
                switch (frame.Type)
                {
                    case StreamFrameType.Ltx:
                        var db = _store.GetOrCreate(frame.Name);
                        var received = _store.Time.GetTimestamp();
                        var header = db.ReceiveLtx(reader.Payload!, token);
                        Interlocked.Exchange(ref _unsynced, 1);
                        if (header is { } h)
                        {
                            if (_logger.IsEnabled(LogLevel.Debug))
                            {
                                LogApplied(frame.Name, LtxFileName.Format(h.MinTxId, h.MaxTxId), _store.Time.GetElapsedTime(received).TotalMilliseconds);
                            }
                            if (_store.IsReady)
                            {
                                _store.PrimaryTimestamp = h.Timestamp;
                            }
                        }
                        break;
                    case StreamFrameType.Ready:
                        _failures = 0;
                        _options.OnCaughtUp?.Invoke(url);
                        if (!_store.IsReady)
                        {
                            LogReady();
                        }
                        _store.MarkReady();
                        if (!_store.IsHealthy)
                        {
                            LogHealthy(url);
                            _store.ClearReplicationFailure();
                        }
                        break;
                    case StreamFrameType.Heartbeat:
                        _store.PrimaryTimestamp = frame.Timestamp;
                        if (_ownWalsLeft)
                        {
                            // One attempt, without waiting: readers are neither held off nor
                            // kept waiting, and the stream goes on at once.
                            _ownWalsLeft = !_store.CheckpointOwnWals(token, TimeSpan.Zero);
                        }
                        break;
                    case StreamFrameType.End:
                        LogEnd(url);
                        return false;
                    case StreamFrameType.Handoff:
                        LogHandoff(url);
                        _options.OnHandoff?.Invoke(frame.LeaseId);
                        return true;
                    case StreamFrameType.DropDb:
                        LogDropDb(frame.Name);
                        break;
                    case StreamFrameType.Hwm:
                        break;
                }
            }
            LogEnd(url);
            return false;
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
            throw new OperationCanceledException(token);
        }
        finally
        {
            _current = null;
        }
    }

    /// <summary>
    /// After an attempt: once <see cref="UnhealthyAfter"/> attempts in a row ended before the
    /// primary's READY, the replica reports itself unhealthy (once, until READY clears it).
    /// </summary>
    private void CheckHealth(string url, string? failure)
    {
        if (_failures < UnhealthyAfter || !_store.IsHealthy)
        {
            return;
        }
        var reason = $"{_failures} attempts in a row to follow {url} failed, the last with: {failure ?? "the stream ended before the primary sent READY"}";
        // The log line first: whoever sees the replica unhealthy finds the reason already logged.
        LogUnhealthy(reason);
        _store.ReportReplicationFailure(reason);
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _store.Time.GetTimestamp());

    private void CheckStall(PrimaryStream stream)
    {
        if (_store.Time.GetElapsedTime(Interlocked.Read(ref _lastActivity)) > _options.StallTimeout)
        {
            LogStalled(_options.StallTimeout.TotalSeconds);
            stream.Dispose();
        }
    }

    private void SyncApplied()
    {
        if (Interlocked.Exchange(ref _unsynced, 0) == 0)
        {
            return;
        }
        try
        {
            Posix.SyncFileSystem(_store.DataDir);
        }
        catch (IOException ex)
        {
            LogSyncFailed(ex.Message);
        }
    }

    private static string Describe(Exception ex) => ex switch
    {
        ObjectDisposedException => "stream aborted",
        AggregateException { InnerException: { } inner } => Describe(inner),
        _ when ex.InnerException is { } inner && !ex.Message.Contains(inner.Message, StringComparison.Ordinal) => $"{ex.Message} ({inner.Message})",
        _ => ex.Message,
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Cancel();
        _current?.Dispose();
        _thread?.Join(TimeSpan.FromSeconds(10));
        _syncTimer?.Dispose();
        SyncApplied();
        _stop.Dispose();
    }

    [LoggerMessage(200, LogLevel.Information, "connected to primary {Url}, {Count} database position(s) sent")]
    private partial void LogConnected(string url, int count);

    [LoggerMessage(201, LogLevel.Warning, "replication stream from {Url} failed: {Reason}; reconnecting")]
    private partial void LogStreamError(string url, string reason);

    [LoggerMessage(202, LogLevel.Information, "caught up with the primary: replica ready")]
    private partial void LogReady();

    [LoggerMessage(203, LogLevel.Information, "replication stream from {Url} ended")]
    private partial void LogEnd(string url);

    [LoggerMessage(204, LogLevel.Information, "primary {Url} is handing its lease to this node")]
    private partial void LogHandoff(string url);

    [LoggerMessage(205, LogLevel.Debug, "DROPDB frame for {Name} ignored (deprecated)")]
    private partial void LogDropDb(string name);

    [LoggerMessage(206, LogLevel.Warning, "no data from the primary for {Seconds} s: dropping the stream")]
    private partial void LogStalled(double seconds);

    [LoggerMessage(207, LogLevel.Warning, "cannot sync replicated files: {Reason}")]
    private partial void LogSyncFailed(string reason);

    [LoggerMessage(208, LogLevel.Warning, "no primary known; waiting")]
    private partial void LogNoPrimary();

    [LoggerMessage(209, LogLevel.Warning, "replication stream from {Url} is not a replication frame stream: {Reason}; dropping it and reconnecting")]
    private partial void LogUnreadable(string url, string reason);

    [LoggerMessage(210, LogLevel.Error, "replica unhealthy: {Reason}; its databases may fall behind the primary until it catches up")]
    private partial void LogUnhealthy(string reason);

    [LoggerMessage(212, LogLevel.Debug, "{Name}: {File} received and applied in {Milliseconds:0.0} ms")]
    private partial void LogApplied(string name, string file, double milliseconds);

    [LoggerMessage(213, LogLevel.Debug, "{Type} frame from the primary")]
    private partial void LogFrame(StreamFrameType type);

    [LoggerMessage(211, LogLevel.Information, "caught up with the primary {Url} again: replica healthy again")]
    private partial void LogHealthy(string url);
}
