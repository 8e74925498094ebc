namespace LiteFs.Core;

/// <summary>The role a node plays in its cluster.</summary>
public enum Role
{
    /// <summary>Follows a primary; local writes are refused.</summary>
    Replica,

    /// <summary>Holds the lease: local writes are recorded and streamed to replicas.</summary>
    Primary,
}

/// <summary>A change of <see cref="NodeRole"/>, as its subscribers see it.</summary>
/// <param name="Role">The role from now on.</param>
/// <param name="CanWrite">Whether local writes are allowed from now on.</param>
/// <param name="Reason">Why, for the log.</param>
public sealed record RoleChange(Role Role, bool CanWrite, string Reason);

/// <summary>
/// The one place that owns whether this node may write. A write term begins when the node
/// becomes primary and ends when it is demoted (the lease was lost or handed off), when a fatal
/// error stops it from recording, or when the node stops; <see cref="WriteToken"/> fires when
/// the current term ends, so work that writes on the primary's behalf (a transaction being
/// recorded, a forwarded transaction, a stream) stops cleanly instead of finishing under a role
/// the node no longer has. Readers read without locking; every change is made under
/// <see cref="_lock"/> and announced outside it.
/// </summary>
/// <remarks>
/// Transitions: Replica → Primary (<see cref="Promote"/>); Primary → Replica (<see cref="Demote"/>);
/// any → failed (<see cref="Fail"/>: no more writes, whatever the role; final); any → stopped
/// (<see cref="Stop"/>: final).
/// </remarks>
public sealed class NodeRole
{
    private readonly Lock _lock = new();

    // Owned by _lock; read lock-free (each is one reference or one int-sized value).
    private volatile RoleChange _current;
    private CancellationTokenSource _term = new();
    private volatile FatalDatabaseException? _failure;
    private bool _stopped;

    /// <summary>Starts as <paramref name="role"/>: a static or already-held lease decides it before anything runs.</summary>
    public NodeRole(Role role)
    {
        _current = new RoleChange(role, role == Role.Primary, "start");
        if (role != Role.Primary)
        {
            _term.Cancel();
        }
    }

    /// <summary>The role now.</summary>
    public Role Current => _current.Role;

    /// <summary>Whether this node is the primary.</summary>
    public bool IsPrimary => _current.Role == Role.Primary;

    /// <summary>Whether local writes are allowed now: primary, not failed, not stopped.</summary>
    public bool CanWrite => _current.CanWrite;

    /// <summary>The fatal error that ended writing, if any.</summary>
    public FatalDatabaseException? Failure => _failure;

    /// <summary>Fires when the current write term ends (already cancelled while the node may not write).</summary>
    public CancellationToken WriteToken
    {
        get
        {
            lock (_lock)
            {
                return _term.Token;
            }
        }
    }

    /// <summary>
    /// Raised after every change, outside the lock, on the thread that made it; a subscriber must
    /// not block. Two changes made at once may be announced in either order: a subscriber that
    /// acts on the role reads <see cref="Current"/> and <see cref="CanWrite"/> again.
    /// </summary>
    public event Action<RoleChange>? Changed;

    /// <summary>This node became primary: a new write term begins (unless failed or stopped).</summary>
    public void Promote(string reason) => _ = Change(Role.Primary, reason, failure: null);

    /// <summary>This node is a replica from now on: the write term ends.</summary>
    public void Demote(string reason) => _ = Change(Role.Replica, reason, failure: null);

    /// <summary>A fatal error: no more local writes, whatever the role. Final.</summary>
    /// <returns>Whether this was the first failure (later ones are consequences of it).</returns>
    public bool Fail(FatalDatabaseException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return Change(null, failure.Message, failure);
    }

    /// <summary>The node is stopping: no more local writes. Final.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
        }
        _ = Change(null, "stopping", failure: null);
    }

    /// <returns>For a failure: whether it was the first.</returns>
    private bool Change(Role? role, string reason, FatalDatabaseException? failure)
    {
        RoleChange change;
        CancellationTokenSource? ended = null;
        var firstFailure = false;
        lock (_lock)
        {
            if (failure is not null && _failure is null)
            {
                _failure = failure;
                firstFailure = true;
            }
            var next = role ?? _current.Role;
            var canWrite = next == Role.Primary && _failure is null && !_stopped;
            if (next == _current.Role && canWrite == _current.CanWrite)
            {
                return firstFailure;
            }
            if (_current.CanWrite && !canWrite)
            {
                ended = _term;
            }
            else if (!_current.CanWrite && canWrite)
            {
                _term.Dispose();
                _term = new CancellationTokenSource();
            }
            change = new RoleChange(next, canWrite, reason);
            _current = change;
        }
        // Outside the lock: cancellation callbacks and subscribers may read the role again.
        ended?.Cancel();
        Changed?.Invoke(change);
        return firstFailure;
    }
}
