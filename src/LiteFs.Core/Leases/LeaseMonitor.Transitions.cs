namespace LiteFs.Core.Leases;

/// <summary>The state machine's transitions (methods only; the fields and their owners are in LeaseMonitor.cs).</summary>
public sealed partial class LeaseMonitor
{
    private DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>The loop's own timer: renew while primary, try to acquire while a candidate sees no primary.</summary>
    private Task OnTimerAsync(CancellationToken stop) => _state switch
    {
        LeaseState.Primary => RenewOnceAsync(stop),
        LeaseState.Following => TryAcquireAsync(stop),
        _ => Task.CompletedTask,
    };

    private async Task HandleAsync(Command command, CancellationToken stop)
    {
        switch (command)
        {
            case PrimarySeen seen:
                await OnPrimarySeenAsync(seen.Holder, stop).ConfigureAwait(false);
                break;
            case HandoffRequest handoff:
                await HandOffAsync(handoff, stop).ConfigureAwait(false);
                break;
            case TakeOverRequest takeOver:
                await TakeOverCoreAsync(takeOver.LeaseId, stop).ConfigureAwait(false);
                break;
            case DemoteRequest when _state == LeaseState.Primary:
                await StepDownAsync("demoted on request", release: true, next: null, stop).ConfigureAwait(false);
                _cooldownUntil = Now + _options.DemoteDelay;
                break;
            case DeadlinePassed when _state == LeaseState.Primary:
                // The timer already stopped the writes; the loop catches up with it.
                await StepDownAsync("no renewal succeeded before the lease could expire", release: true, next: null, stop).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The watch saw <paramref name="holder"/>.</summary>
    private async Task OnPrimarySeenAsync(PrimaryInfo? holder, CancellationToken stop)
    {
        var self = _leaser.Self;
        if (_state != LeaseState.Primary)
        {
            // This node's own info without its lease is a lease it gave up (or handed off) that
            // the backend still shows: nobody to follow.
            Publish(self.SameNode(holder) ? null : holder);
            return;
        }
        if (self.SameNode(holder))
        {
            return;
        }
        // The watch may have read the key before this node took it: read again before giving up.
        PrimaryInfo? current;
        try
        {
            current = await _leaser.PrimaryInfoAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            // Renewals decide whether the lease is still held.
            return;
        }
        if (!self.SameNode(current))
        {
            await StepDownAsync(current is null ? "the lease key is gone" : $"the lease is held by {current}", release: true, next: current, stop).ConfigureAwait(false);
        }
    }

    /// <summary>A candidate's attempt to become primary: cluster ID check, safe-promotion hook, then acquire.</summary>
    private async Task TryAcquireAsync(CancellationToken stop)
    {
        _acquireAt = Now + _options.ReconnectDelay;
        string? remoteId;
        try
        {
            remoteId = await _leaser.ClusterIdAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            LogAcquireFailed(ex.Message);
            return;
        }
        var localId = _options.LocalClusterId();
        if (remoteId is not null && localId is not null && !string.Equals(remoteId, localId, StringComparison.Ordinal))
        {
            if (Declined($"cluster id mismatch {remoteId} {localId}"))
            {
                LogClusterMismatch(_leaser.Type, remoteId, localId);
            }
            return;
        }
        // An empty node (no cluster ID yet) in a cluster that has one: with safe promotion it
        // joins a primary first, whose data it then holds; without, it takes the cluster's ID
        // with the lease, as upstream does.
        var adopt = remoteId is not null && localId is null ? remoteId : null;
        if (adopt is not null && _options.EmptyNodeJoinsFirst)
        {
            if (Declined($"this node has no cluster id yet and the {_leaser.Type} lease has {remoteId}: it joins a primary first, so that it holds the cluster's data before it can be primary (lease.safe-promotion)"))
            {
                LogPromotionDeclined(_lastDecline!);
            }
            return;
        }
        if (_options.MayPromote is { } mayPromote)
        {
            var decision = await mayPromote(stop).ConfigureAwait(false);
            if (!decision.Allowed)
            {
                if (Declined(decision.Reason))
                {
                    LogPromotionDeclined(decision.Reason);
                }
                return;
            }
        }
        var sentAt = Now;
        LeaseGrant grant;
        try
        {
            grant = await _leaser.AcquireAsync(stop).ConfigureAwait(false);
        }
        catch (LeaseHeldException ex)
        {
            LogHeld(ex.Holder?.ToString() ?? "another node");
            Publish(_leaser.Self.SameNode(ex.Holder) ? null : ex.Holder);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            LogAcquireFailed(ex.Message);
            return;
        }
        await BecomePrimaryAsync(grant, sentAt, "no primary held the lease", storeClusterId: remoteId is null, adopt, stop).ConfigureAwait(false);
    }

    /// <summary>Records a refusal; true when its reason differs from the last one (which is then logged).</summary>
    private bool Declined(string reason)
    {
        if (string.Equals(reason, _lastDecline, StringComparison.Ordinal))
        {
            return false;
        }
        _lastDecline = reason;
        return true;
    }

    /// <summary>
    /// With the lease held: stores the cluster ID if the backend had none (or adopts the
    /// backend's, <paramref name="adopt"/>, on a node that has none), then begins a write term. A
    /// lease that cannot be used is given back.
    /// </summary>
    private async Task<bool> BecomePrimaryAsync(LeaseGrant grant, DateTimeOffset sentAt, string reason, bool storeClusterId, string? adopt, CancellationToken stop)
    {
        if (adopt is not null)
        {
            try
            {
                _options.AdoptClusterId?.Invoke(adopt);
            }
            catch (Exception ex) when (ex is LiteFsException or IOException or UnauthorizedAccessException)
            {
                LogAcquireFailed("cannot adopt the cluster id " + adopt + ": " + ex.Message);
                await ReleaseQuietlyAsync(grant, stop).ConfigureAwait(false);
                return false;
            }
        }
        if (storeClusterId)
        {
            try
            {
                var localId = _options.LocalClusterId();
                var id = localId ?? NewClusterId();
                // The backend first: if another ID got there meanwhile, this node keeps none of its own.
                await _leaser.SetClusterIdAsync(id, stop).ConfigureAwait(false);
                if (localId is null)
                {
                    _options.AdoptClusterId?.Invoke(id);
                }
                LogClusterIdStored(id, _leaser.Type);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                LogAcquireFailed("cannot store the cluster id: " + ex.Message);
                await ReleaseQuietlyAsync(grant, stop).ConfigureAwait(false);
                return false;
            }
        }
        if (!BeginTerm(grant, sentAt, reason))
        {
            LogAcquireFailed("the lease was granted too late to use before its ttl");
            await ReleaseQuietlyAsync(grant, stop).ConfigureAwait(false);
            return false;
        }
        _grant = grant;
        _state = LeaseState.Primary;
        _renewAt = grant.IsPermanent ? DateTimeOffset.MaxValue : sentAt + grant.Ttl / 2;
        _lastDecline = null;
        LogAcquired(reason, grant.Id, grant.IsPermanent ? double.PositiveInfinity : grant.Ttl.TotalSeconds);
        Publish(_leaser.Self);
        return true;
    }

    /// <summary>Renews <paramref name="grant"/>, giving up once the lease's deadline (as of <paramref name="sentAt"/>) passes.</summary>
    private async Task RenewBeforeDeadlineAsync(LeaseGrant grant, DateTimeOffset sentAt, CancellationToken stop)
    {
        using var deadline = new CancellationTokenSource(Positive(ReadDeadline() - sentAt), _time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stop, deadline.Token);
        await _leaser.RenewAsync(grant, bounded.Token).ConfigureAwait(false);
    }

    /// <summary>One renewal, bounded by the deadline; a failure is retried until the next try would come too late.</summary>
    private async Task RenewOnceAsync(CancellationToken stop)
    {
        var grant = _grant!;
        var sentAt = Now;
        try
        {
            await RenewBeforeDeadlineAsync(grant, sentAt, stop).ConfigureAwait(false);
        }
        catch (LeaseExpiredException ex)
        {
            await StepDownAsync($"lease expired ({ex.Message})", release: false, next: null, stop).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            var now = Now;
            var next = now + _options.RenewRetryInterval;
            var deadline = ReadDeadline();
            if (next >= deadline || !IsTermHeld())
            {
                await StepDownAsync($"cannot renew the lease before it could expire: {ex.Message}", release: true, next: null, stop).ConfigureAwait(false);
                return;
            }
            LogRenewFailed(ex.Message, (long)(deadline - now).TotalMilliseconds);
            _renewAt = next;
            return;
        }
        if (!ExtendTerm(grant, sentAt))
        {
            await StepDownAsync("the renewal came back after the lease deadline", release: true, next: null, stop).ConfigureAwait(false);
            return;
        }
        _renewAt = sentAt + grant.Ttl / 2;
    }

    /// <summary>Primary side of a handoff: renew, deliver the lease ID, stop being primary without releasing.</summary>
    private async Task HandOffAsync(HandoffRequest request, CancellationToken stop)
    {
        if (_state != LeaseState.Primary || _grant is not { } grant)
        {
            throw new LeaseException("node is not currently primary");
        }
        if (!_leaser.SupportsHandoff)
        {
            throw new NotSupportedException($"{_leaser.Type} lease does not support handoff");
        }
        var sentAt = Now;
        try
        {
            await RenewBeforeDeadlineAsync(grant, sentAt, stop).ConfigureAwait(false);
        }
        catch (LeaseExpiredException ex)
        {
            await StepDownAsync($"lease expired ({ex.Message})", release: false, next: null, stop).ConfigureAwait(false);
            throw;
        }
        if (!ExtendTerm(grant, sentAt))
        {
            await StepDownAsync("the renewal came back after the lease deadline", release: true, next: null, stop).ConfigureAwait(false);
            throw new LeaseException("cannot handoff: the lease could expire before the renewal returned");
        }
        _renewAt = sentAt + grant.Ttl / 2;
        // The writes stop before the lease ID leaves: the target's stream sends everything this
        // node committed, then the ID, so the next primary starts from all of it.
        EndTerm("handing the lease off");
        try
        {
            using var timeout = new CancellationTokenSource(_options.HandoffTimeout, _time);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            await request.Deliver(grant.Id, bounded.Token).ConfigureAwait(false);
        }
        catch (HandoffNotDeliveredException ex)
        {
            // Nothing reached the target: the lease is still this node's alone.
            LogHandoffAbandoned(ex.Message);
            if (!BeginTerm(grant, sentAt, "handoff abandoned"))
            {
                await StepDownAsync("the lease could expire before the handoff was abandoned", release: true, next: null, stop).ConfigureAwait(false);
            }
            throw new LeaseException($"handoff abandoned: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            // The lease ID may have reached the target: the lease is given up rather than kept
            // by two nodes, and the candidates elect the next primary.
            LogHandoffAbandoned(ex.Message);
            await StepDownAsync($"handoff failed: {ex.Message}", release: true, next: null, stop).ConfigureAwait(false);
            throw new LeaseException($"handoff failed: {ex.Message}", ex);
        }
        // The lease now belongs to the target: no release.
        await StepDownAsync("lease handed off", release: false, next: null, stop).ConfigureAwait(false);
        _cooldownUntil = Now + _options.DemoteDelay;
        LogHandedOff();
    }

    /// <summary>Receiving side of a handoff: take the existing lease over and become primary.</summary>
    private async Task TakeOverCoreAsync(string leaseId, CancellationToken stop)
    {
        if (!_options.Candidate)
        {
            throw new LeaseException("not eligible to become primary: lease.candidate is false on this node");
        }
        if (_state == LeaseState.Primary)
        {
            return;
        }
        var sentAt = Now;
        var grant = await _leaser.AcquireExistingAsync(leaseId, stop).ConfigureAwait(false);
        if (!await BecomePrimaryAsync(grant, sentAt, "lease handed off to this node", storeClusterId: false, adopt: null, stop).ConfigureAwait(false))
        {
            throw new LeaseException("the handed-off lease could not be used");
        }
    }

    /// <summary>Stops being primary (writes first), then gives the lease up unless told not to.</summary>
    private async Task StepDownAsync(string reason, bool release, PrimaryInfo? next, CancellationToken stop)
    {
        var grant = _grant;
        EndTerm(reason);
        _grant = null;
        _state = LeaseState.Following;
        _acquireAt = Now + _options.ReconnectDelay;
        Publish(_leaser.Self.SameNode(next) ? null : next);
        if (release && grant is not null)
        {
            await ReleaseQuietlyAsync(grant, stop).ConfigureAwait(false);
        }
    }

    /// <summary>On stop: the node stops writing, then the lease is given up.</summary>
    private async Task GiveUpOnStopAsync()
    {
        if (_grant is { } grant)
        {
            EndTerm("stopping");
            _grant = null;
            await ReleaseQuietlyAsync(grant).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Gives a lease up, waiting at most the release timeout; a release while running also ends
    /// when the monitor stops (the lease then expires after its TTL), while the one made on stop
    /// (<see cref="GiveUpOnStopAsync"/>, with no <paramref name="stop"/>) gets the whole timeout.
    /// </summary>
    private async Task ReleaseQuietlyAsync(LeaseGrant grant, CancellationToken stop = default)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.ReleaseTimeout, _time);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stop);
            await _leaser.ReleaseAsync(grant, bounded.Token).ConfigureAwait(false);
            LogReleased();
        }
        catch (Exception ex)
        {
            LogReleaseFailed(ex.Message);
        }
    }

    /// <summary>Sets <see cref="Primary"/> and announces a change (on the loop, outside any lock).</summary>
    private void Publish(PrimaryInfo? holder)
    {
        if (Equals(_primary, holder))
        {
            return;
        }
        _primary = holder;
        if (holder is null)
        {
            LogNoPrimary();
        }
        else
        {
            LogPrimaryChanged(holder.ToString());
        }
        PrimaryChanged?.Invoke(holder);
    }

    /// <summary>Begins a write term for a lease whose last request was sent at <paramref name="sentAt"/>; false if its deadline already passed.</summary>
    private bool BeginTerm(LeaseGrant grant, DateTimeOffset sentAt, string reason)
    {
        lock (_roleLock)
        {
            var now = Now;
            if (!grant.IsPermanent)
            {
                _deadline = sentAt + grant.Ttl - Margin(grant.Ttl);
                if (now >= _deadline)
                {
                    return false;
                }
                _deadlineTimer.Change(_deadline - now, Timeout.InfiniteTimeSpan);
            }
            else
            {
                _deadline = DateTimeOffset.MaxValue;
            }
            _heldTerm = ++_lastTerm;
            // Under the lock with the deadline check: the role changes in one order.
            _role!.Promote(reason);
            return true;
        }
    }

    /// <summary>Moves the deadline after a renewal sent at <paramref name="sentAt"/>; false if the term already ended.</summary>
    private bool ExtendTerm(LeaseGrant grant, DateTimeOffset sentAt)
    {
        lock (_roleLock)
        {
            if (_heldTerm == 0)
            {
                return false;
            }
            var now = Now;
            var deadline = sentAt + grant.Ttl - Margin(grant.Ttl);
            if (deadline > _deadline)
            {
                _deadline = deadline;
            }
            if (now >= _deadline)
            {
                return false;
            }
            _deadlineTimer.Change(_deadline - now, Timeout.InfiniteTimeSpan);
            return true;
        }
    }

    /// <summary>Ends the write term, if one is held.</summary>
    private void EndTerm(string reason)
    {
        bool ended;
        lock (_roleLock)
        {
            ended = _heldTerm != 0;
            _heldTerm = 0;
            _deadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (ended)
            {
                _role!.Demote(reason);
            }
        }
        if (ended)
        {
            LogDemoted(reason);
        }
    }

    /// <summary>The deadline timer (a timer thread): stops the writes if no renewal moved the deadline meanwhile.</summary>
    private void OnDeadline()
    {
        int term;
        lock (_roleLock)
        {
            if (_heldTerm == 0)
            {
                return;
            }
            var early = _deadline - Now;
            if (early > TimeSpan.Zero)
            {
                // Moved by a renewal meanwhile, or a timer that fired early.
                _deadlineTimer.Change(early, Timeout.InfiniteTimeSpan);
                return;
            }
            term = _heldTerm;
            _heldTerm = 0;
            _role!.Demote("no renewal succeeded before the lease could expire");
        }
        LogDeadlinePassed();
        _commands.Writer.TryWrite(new DeadlinePassed(term));
    }

    private DateTimeOffset ReadDeadline()
    {
        lock (_roleLock)
        {
            return _deadline;
        }
    }

    private bool IsTermHeld()
    {
        lock (_roleLock)
        {
            return _heldTerm != 0;
        }
    }

    private TimeSpan Margin(TimeSpan ttl) =>
        _options.ExpiryMargin ?? TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, ttl.Ticks / 10));

    private static TimeSpan Positive(TimeSpan span) => span > TimeSpan.Zero ? span : TimeSpan.FromTicks(1);

    /// <summary>A new cluster ID: <c>LFSC</c> and 16 uppercase hex digits.</summary>
    private static string NewClusterId()
    {
        Span<byte> random = stackalloc byte[8];
        Posix.FillRandom(random);
        return "LFSC" + Convert.ToHexString(random);
    }
}
