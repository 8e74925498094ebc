using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Core.Leases;

/// <summary>Where a <see cref="LeaseMonitor"/> is in its life.</summary>
public enum LeaseState
{
    /// <summary>Not started yet.</summary>
    NotStarted,

    /// <summary>Without the lease: following whoever holds it (a candidate also tries to take it when nobody does).</summary>
    Following,

    /// <summary>Holding the lease: renewing it, the node is primary.</summary>
    Primary,

    /// <summary>Stopped: the lease, if held, was given up.</summary>
    Stopped,
}

/// <summary>
/// The lease state machine of a node with a lease that comes and goes (Consul, etcd): for a
/// candidate, takes the lease when nobody holds it (after the cluster-ID check and the
/// safe-promotion hook), renews it every half TTL, and stops the node writing before the lease
/// could expire when renewals fail; for every node, watches who holds the lease and publishes it
/// (<see cref="Primary"/>, <see cref="PrimaryChanged"/>). It drives <see cref="NodeRole"/>, which
/// alone owns whether the node may write: promotion only after the lease is held, demotion always
/// before the lease is given up. The transition table is in docs/ARCHITECTURE.md ("Leases").
/// </summary>
/// <remarks>
/// One loop owns the state (<see cref="RunAsync"/>, on the thread pool): it handles one event at a
/// time from its queue (a watched holder, a handoff, a takeover, a demotion request) or its timer
/// (acquire, renew). A second loop only feeds the watch into the queue. The expiry deadline is a
/// timer of its own, so a backend call that hangs cannot keep the node writing past it.
/// </remarks>
public sealed partial class LeaseMonitor : ILease, IAsyncDisposable
{
    private readonly ILeaser _leaser;
    private readonly LeaseMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>();
    private readonly CancellationTokenSource _stop = new();

    // Set once by Start; read by any thread after.
    private NodeRole? _role;
    private Task? _loop;
    private Task? _watchLoop;
    private int _started;

    // Set by each loop just before it waits for an event or the clock, cleared by the wake-up
    // itself (synchronously, on the thread that completes the wait), so a test that drives a fake
    // clock can tell when both loops are waiting on it.
    private volatile bool _loopWaiting;
    private volatile bool _watchWaiting;

    // Owned by the loop (RunAsync); _state and _primary are also read lock-free by any thread.
    private volatile LeaseState _state = LeaseState.NotStarted;
    private volatile PrimaryInfo? _primary;
    private LeaseGrant? _grant;
    private DateTimeOffset _renewAt;
    private DateTimeOffset _acquireAt;
    private DateTimeOffset _cooldownUntil;
    private string? _lastDecline;

    // Owned by _roleLock: the deadline of the held lease and the term it belongs to (0 when no
    // lease is held). The deadline timer and the loop both change the role under it, so a late
    // timer can never demote a later term, and a renewal that returns after the deadline fired
    // cannot carry on as primary.
    private readonly Lock _roleLock = new();
    private readonly ITimer _deadlineTimer;
    private DateTimeOffset _deadline;
    private int _heldTerm;
    private int _lastTerm;

    /// <summary>Creates the monitor; nothing happens until <see cref="Start"/>.</summary>
    public LeaseMonitor(ILeaser leaser, LeaseMonitorOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(leaser);
        _leaser = leaser;
        _options = options ?? new LeaseMonitorOptions();
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LeaseMonitor>();
        _deadlineTimer = _time.CreateTimer(static s => ((LeaseMonitor)s!).OnDeadline(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The lease backend.</summary>
    public ILeaser Leaser => _leaser;

    /// <summary>Where the state machine is.</summary>
    public LeaseState State => _state;

    /// <summary>Whether this node is a candidate for the lease.</summary>
    public bool Candidate => _options.Candidate;

    /// <summary>
    /// Who holds the lease as last seen: this node's own info while it holds it, null while
    /// nobody does (or while only a lease this node gave up is still visible).
    /// </summary>
    public PrimaryInfo? Primary => _primary;

    /// <summary>
    /// Raised on the monitor's loop after every change of <see cref="Primary"/>, outside any lock;
    /// the replica's loop follows it to reconnect to a new primary. A subscriber must not block.
    /// </summary>
    public event Action<PrimaryInfo?>? PrimaryChanged;

    /// <inheritdoc />
    /// <remarks>The node's role, as <see cref="NodeRole"/> owns it; false before <see cref="Start"/>.</remarks>
    public bool IsPrimary => _role?.IsPrimary ?? false;

    /// <inheritdoc />
    public string? PrimaryHostname => IsPrimary ? _leaser.Self.Hostname : _primary?.Hostname;

    /// <inheritdoc />
    public string? PrimaryAdvertiseUrl => IsPrimary ? _leaser.Self.AdvertiseUrl : _primary?.AdvertiseUrl;

    /// <summary>Whether the state machine's loop waits for an event or the clock, with nothing queued (or has ended).</summary>
    internal bool LoopWaiting => (_loopWaiting && _commands.Reader.Count == 0) || _state == LeaseState.Stopped;

    /// <summary>Whether the watch loop waits out the pause before watching again (or has ended).</summary>
    internal bool WatchPaused => _watchWaiting || _state == LeaseState.Stopped;

    /// <summary>
    /// Starts both loops, driving <paramref name="role"/>, which must start as a replica: the
    /// node becomes primary only once it holds the lease.
    /// </summary>
    public void Start(NodeRole role)
    {
        ArgumentNullException.ThrowIfNull(role);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("the lease monitor is already started");
        }
        if (role.IsPrimary)
        {
            throw new InvalidOperationException("a node with a dynamic lease starts as a replica; it becomes primary once it holds the lease");
        }
        _role = role;
        _state = LeaseState.Following;
        _acquireAt = _time.GetUtcNow();
        LogStarted(_leaser.Type, _leaser.Self.ToString(), _options.Candidate);
        _loop = Task.Run(() => RunAsync(_stop.Token));
        _watchLoop = Task.Run(() => WatchLoopAsync(_stop.Token));
    }

    /// <summary>
    /// Hands the lease to another node (replication-protocol.md §7.1): renews it once more, stops
    /// the writes, then gives its ID to <paramref name="deliverLeaseId"/> (the target's stream,
    /// which sends what this node committed and then the ID in a HANDOFF frame) within
    /// <see cref="LeaseMonitorOptions.HandoffTimeout"/>, and stays a replica without releasing the
    /// lease. When the delivery throws <see cref="HandoffNotDeliveredException"/> (nothing reached
    /// the target) the node is primary again; any other failure may have passed the ID on, so the
    /// lease is released and the candidates elect the next primary.
    /// </summary>
    /// <exception cref="LeaseException">Not primary, the renewal failed, or the delivery failed.</exception>
    /// <exception cref="NotSupportedException">The lease type cannot be handed over.</exception>
    public Task HandoffAsync(Func<string, CancellationToken, ValueTask> deliverLeaseId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliverLeaseId);
        return Post(new HandoffRequest(deliverLeaseId), cancellationToken);
    }

    /// <summary>
    /// Takes over the lease another primary handed to this node (its ID came in a HANDOFF frame)
    /// and becomes primary.
    /// </summary>
    public Task TakeOverAsync(string leaseId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        return Post(new TakeOverRequest(leaseId), cancellationToken);
    }

    /// <summary>
    /// Stops being primary and gives the lease up, then waits <see cref="LeaseMonitorOptions.DemoteDelay"/>
    /// before trying to take it again. Nothing happens on a node that is not primary.
    /// </summary>
    public Task DemoteAsync(CancellationToken cancellationToken = default) => Post(new DemoteRequest(), cancellationToken);

    /// <summary>
    /// <c>lease.promote</c>: asks the current primary to hand the lease to this node and waits,
    /// up to <see cref="LeaseMonitorOptions.PromoteTimeout"/>, until it is primary.
    /// </summary>
    /// <exception cref="LeaseException">Not a candidate, no primary to ask, or the handoff did not arrive in time.</exception>
    public async Task RequestPromotionAsync(CancellationToken cancellationToken = default)
    {
        var role = _role ?? throw new InvalidOperationException("the lease monitor is not started");
        if (!_options.Candidate)
        {
            throw new LeaseException("not eligible to become primary: lease.candidate is false on this node");
        }
        if (role.IsPrimary)
        {
            return;
        }
        var primary = _primary;
        if (primary is null || primary.SameNode(_leaser.Self))
        {
            throw new LeaseException("no primary is currently available for handoff, cannot promote");
        }
        var request = _options.RequestHandoff ?? throw new NotSupportedException("no way to ask the primary for a handoff was configured");
        var promoted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(RoleChange change)
        {
            if (change.Role == Role.Primary)
            {
                promoted.TrySetResult();
            }
        }
        role.Changed += OnChanged;
        try
        {
            if (role.IsPrimary)
            {
                return;
            }
            await request(primary, cancellationToken).ConfigureAwait(false);
            try
            {
                await promoted.Task.WaitAsync(_options.PromoteTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new LeaseException($"promote: {primary} accepted the handoff but this node did not become primary within {_options.PromoteTimeout.TotalSeconds:0.###}s");
            }
        }
        finally
        {
            role.Changed -= OnChanged;
        }
    }

    /// <summary>Stops both loops; a held lease is given up after the node stops writing.</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _loop, _watchLoop })
        {
            if (task is not null)
            {
                await task.ConfigureAwait(false);
            }
        }
        _state = LeaseState.Stopped;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _deadlineTimer.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private Task Post(Command command, CancellationToken cancellationToken)
    {
        if (_role is null)
        {
            throw new InvalidOperationException("the lease monitor is not started");
        }
        if (_stop.IsCancellationRequested || !_commands.Writer.TryWrite(command))
        {
            return Task.FromException(new LeaseException("the lease monitor is stopped"));
        }
        return command.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The loop that owns the state machine: one event or timer at a time, until stopped.</summary>
    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var command = await NextCommandAsync(NextWake(), stop).ConfigureAwait(false);
                if (command is null)
                {
                    await OnTimerAsync(stop).ConfigureAwait(false);
                    continue;
                }
                try
                {
                    await HandleAsync(command, stop).ConfigureAwait(false);
                    command.Done.TrySetResult();
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    command.Done.TrySetException(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A bug in the state machine: stop writing rather than hold a lease nobody renews.
            LogLoopFailed(ex);
        }
        finally
        {
            await GiveUpOnStopAsync().ConfigureAwait(false);
            while (_commands.Reader.TryRead(out var left))
            {
                left.Done.TrySetException(new LeaseException("the lease monitor is stopped"));
            }
            _state = LeaseState.Stopped;
        }
    }

    /// <summary>When the loop should act on its own next: renew while primary, acquire while a candidate sees no primary.</summary>
    private DateTimeOffset? NextWake()
    {
        switch (_state)
        {
            case LeaseState.Primary:
                return _grant is { IsPermanent: false } ? _renewAt : null;
            case LeaseState.Following when _options.Candidate && _primary is null:
                return _acquireAt > _cooldownUntil ? _acquireAt : _cooldownUntil;
            default:
                return null;
        }
    }

    /// <summary>The next queued event, or null when <paramref name="wake"/> comes first.</summary>
    private async Task<Command?> NextCommandAsync(DateTimeOffset? wake, CancellationToken stop)
    {
        while (true)
        {
            if (_commands.Reader.TryRead(out var command))
            {
                return command;
            }
            var delay = wake is { } at ? at - _time.GetUtcNow() : Timeout.InfiniteTimeSpan;
            if (wake is not null && delay <= TimeSpan.Zero)
            {
                return null;
            }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var queued = _commands.Reader.WaitToReadAsync(wait.Token).AsTask();
            var timer = wake is null ? Task.Delay(Timeout.InfiniteTimeSpan, wait.Token) : Task.Delay(delay, _time, wait.Token);
            await WaitFlagged(Task.WhenAny(queued, timer), loop: true).ConfigureAwait(false);
            await wait.CancelAsync().ConfigureAwait(false);
            stop.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Feeds the backend's watch into the loop's queue, starting it again after each failure.</summary>
    private async Task WatchLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await foreach (var holder in _leaser.WatchAsync(stop).ConfigureAwait(false))
                {
                    _commands.Writer.TryWrite(new PrimarySeen(holder));
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogWatchFailed(_leaser.Type, ex.Message);
            }
            try
            {
                await WaitFlagged(Task.Delay(_options.ReconnectDelay, _time, stop), loop: false).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static readonly Action<Task, object?> LoopWoke = static (_, s) => ((LeaseMonitor)s!)._loopWaiting = false;
    private static readonly Action<Task, object?> WatchWoke = static (_, s) => ((LeaseMonitor)s!)._watchWaiting = false;

    /// <summary>Awaits <paramref name="wait"/> with the loop's (or the watch's) waiting flag set, which the wake-up clears on the spot.</summary>
    private async Task WaitFlagged(Task wait, bool loop)
    {
        if (loop)
        {
            _loopWaiting = true;
        }
        else
        {
            _watchWaiting = true;
        }
        _ = wait.ContinueWith(loop ? LoopWoke : WatchWoke, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await wait.ConfigureAwait(false);
    }

    /// <summary>An event for the loop; <see cref="Done"/> completes once it was handled.</summary>
    private abstract record Command
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The watch saw this holder (null: nobody).</summary>
    private sealed record PrimarySeen(PrimaryInfo? Holder) : Command;

    /// <summary>Hand the lease to the node whose stream <see cref="Deliver"/> reaches.</summary>
    private sealed record HandoffRequest(Func<string, CancellationToken, ValueTask> Deliver) : Command;

    /// <summary>Take over the lease handed to this node.</summary>
    private sealed record TakeOverRequest(string LeaseId) : Command;

    /// <summary>Stop being primary and give the lease up.</summary>
    private sealed record DemoteRequest : Command;

    /// <summary>The deadline timer demoted the node in <see cref="Term"/>.</summary>
    private sealed record DeadlinePassed(int Term) : Command;

    [LoggerMessage(150, LogLevel.Information, "{Type} lease: this node is {Self}, candidate={Candidate}")]
    private partial void LogStarted(string type, string self, bool candidate);

    [LoggerMessage(151, LogLevel.Information, "primary lease acquired ({Reason}), lease {LeaseId}, ttl {TtlSeconds}s")]
    private partial void LogAcquired(string reason, string leaseId, double ttlSeconds);

    [LoggerMessage(152, LogLevel.Information, "primary is now {Primary}")]
    private partial void LogPrimaryChanged(string primary);

    [LoggerMessage(153, LogLevel.Information, "no primary holds the lease")]
    private partial void LogNoPrimary();

    [LoggerMessage(154, LogLevel.Warning, "cannot renew the primary lease: {Error}; {RemainingMs} ms left before this node stops writing")]
    private partial void LogRenewFailed(string error, long remainingMs);

    [LoggerMessage(155, LogLevel.Warning, "primary status lost: {Reason}")]
    private partial void LogDemoted(string reason);

    [LoggerMessage(156, LogLevel.Warning, "cannot acquire the primary lease: {Error}")]
    private partial void LogAcquireFailed(string error);

    [LoggerMessage(157, LogLevel.Debug, "primary lease held by {Holder}")]
    private partial void LogHeld(string holder);

    [LoggerMessage(158, LogLevel.Information, "not taking the primary lease: {Reason}")]
    private partial void LogPromotionDeclined(string reason);

    [LoggerMessage(159, LogLevel.Error, "cluster id mismatch: the {Type} lease has {Remote}, this node has {Local}; this node will not become primary (remove its data directory to join that cluster)")]
    private partial void LogClusterMismatch(string type, string remote, string local);

    [LoggerMessage(160, LogLevel.Warning, "cannot watch the {Type} lease: {Error}; trying again")]
    private partial void LogWatchFailed(string type, string error);

    [LoggerMessage(161, LogLevel.Warning, "cannot release the primary lease: {Error}; it expires after its ttl")]
    private partial void LogReleaseFailed(string error);

    [LoggerMessage(162, LogLevel.Information, "primary lease released")]
    private partial void LogReleased();

    [LoggerMessage(163, LogLevel.Information, "primary lease handed off")]
    private partial void LogHandedOff();

    [LoggerMessage(164, LogLevel.Warning, "handoff abandoned, staying primary: {Error}")]
    private partial void LogHandoffAbandoned(string error);

    [LoggerMessage(165, LogLevel.Information, "cluster id {ClusterId} stored in the {Type} lease")]
    private partial void LogClusterIdStored(string clusterId, string type);

    [LoggerMessage(166, LogLevel.Error, "lease monitor failed; this node stops writing")]
    private partial void LogLoopFailed(Exception exception);

    [LoggerMessage(167, LogLevel.Error, "the primary lease deadline passed without a successful renewal: this node stopped writing")]
    private partial void LogDeadlinePassed();
}
