using LiteFs.Core.Leases;

namespace LiteFs.Core.Replication;

/// <summary>
/// The handoff slot of one replica's <c>/stream</c> (replication-protocol.md §7.1). The node API
/// arms it before it asks the lease monitor to hand the lease to that replica, so the stream does
/// not end when the node stops being primary; the monitor stops the writes, then delivers the
/// lease ID (<see cref="DeliverAsync"/>); the stream sends every transaction this node committed,
/// then the HANDOFF frame, and reports it sent. A stream that ends first fails the delivery.
/// </summary>
/// <remarks>
/// All state is owned by <see cref="_lock"/>; the stream's thread and the monitor's loop both
/// take it. Wakes the stream (<see cref="ChangeSubscription"/>) outside the lock.
/// </remarks>
public sealed class StreamHandoff
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _armed;
    private string? _leaseId;
    private bool _closed;
    private Action? _wake;

    /// <summary>
    /// Whether the stream's replica said it is a candidate for the lease (null: it did not say,
    /// as upstream's replicas do not); a primary that stops hands its lease only to a candidate.
    /// </summary>
    public bool? Candidate { get; init; }

    /// <summary>Whether a handoff to this stream's replica is under way.</summary>
    public bool IsArmed
    {
        get
        {
            lock (_lock)
            {
                return _armed;
            }
        }
    }

    /// <summary>The lease ID to send, once delivered (the writes have stopped by then).</summary>
    internal string? LeaseId
    {
        get
        {
            lock (_lock)
            {
                return _leaseId;
            }
        }
    }

    /// <summary>Arms the slot for one handoff; false if the stream has ended or another handoff is under way.</summary>
    public bool TryArm()
    {
        lock (_lock)
        {
            if (_closed || _armed)
            {
                return false;
            }
            _armed = true;
            return true;
        }
    }

    /// <summary>The handoff was abandoned before its lease ID was delivered: the stream goes on as before.</summary>
    public void Disarm()
    {
        Action? wake;
        lock (_lock)
        {
            if (_leaseId is not null)
            {
                return;
            }
            _armed = false;
            wake = _wake;
        }
        wake?.Invoke();
    }

    /// <summary>
    /// Gives the stream the lease ID (the node has stopped writing) and waits until the HANDOFF
    /// frame was sent.
    /// </summary>
    /// <exception cref="HandoffNotDeliveredException">The stream had ended: nothing was sent.</exception>
    /// <exception cref="IOException">The stream failed while sending what was left or the frame.</exception>
    public async ValueTask DeliverAsync(string leaseId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        Action? wake;
        lock (_lock)
        {
            if (_closed || !_armed)
            {
                throw new HandoffNotDeliveredException("target node is not currently connected");
            }
            _leaseId = leaseId;
            wake = _wake;
        }
        wake?.Invoke();
        await _sent.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The stream's wake-up, set by the stream when it starts.</summary>
    internal void SetWake(Action wake)
    {
        lock (_lock)
        {
            _wake = wake;
        }
    }

    /// <summary>The HANDOFF frame was written and flushed.</summary>
    internal void MarkSent()
    {
        lock (_lock)
        {
            _closed = true;
        }
        _sent.TrySetResult();
    }

    /// <summary>
    /// The stream ended: a delivery still waiting fails (as not delivered unless the HANDOFF frame
    /// was being written: then the target may have it); no later handoff can use it.
    /// </summary>
    internal void Close(Exception? error, bool frameAttempted)
    {
        bool delivered;
        lock (_lock)
        {
            _closed = true;
            delivered = _leaseId is not null;
            _wake = null;
        }
        if (!delivered)
        {
            return;
        }
        var message = error?.Message ?? "the stream to the target ended";
        _sent.TrySetException(frameAttempted
            ? new IOException("the stream to the target failed while sending the HANDOFF frame: " + message, error)
            : new HandoffNotDeliveredException("the stream to the target ended before the HANDOFF frame: " + message));
    }
}
