namespace LiteFs.Core.Locking;

/// <summary>The state one owner holds on one lock.</summary>
internal enum LockMode
{
    None,
    Shared,
    Exclusive,
}

/// <summary>
/// One SQLite lock byte as a reader/writer lock tracked per owner (a FUSE lock owner, or one of
/// the node's internal owners). Non-blocking: every request succeeds or fails at once.
/// Not thread-safe on its own; <see cref="DbLocks"/> serialises access.
/// </summary>
internal sealed class RwLock(string name)
{
    private readonly HashSet<ulong> _shared = [];
    private ulong _exclusiveOwner;
    private bool _exclusive;

    /// <summary>
    /// An owner waiting to take the lock exclusively (0: none): no other owner gets it meanwhile,
    /// shared or exclusively, so the holders drain rather than hand the lock on among themselves
    /// (SQLite takes a read mark exclusively to move it, and the WAL write lock only so).
    /// </summary>
    private ulong _waitingOwner;

    public string Name { get; } = name;

    public LockMode ModeOf(ulong owner) =>
        _exclusive && _exclusiveOwner == owner ? LockMode.Exclusive : _shared.Contains(owner) ? LockMode.Shared : LockMode.None;

    /// <summary>Whether anyone holds the lock in any mode.</summary>
    public bool IsHeld => _exclusive || _shared.Count > 0;

    /// <summary>Whether someone holds the lock exclusively.</summary>
    public bool IsExclusive => _exclusive;

    /// <summary>Whether <paramref name="owner"/> could take the lock shared.</summary>
    public bool CanShare(ulong owner) => !_exclusive || _exclusiveOwner == owner;

    /// <summary>Whether <paramref name="owner"/> could take the lock exclusively.</summary>
    public bool CanExclusive(ulong owner) =>
        _exclusive ? _exclusiveOwner == owner : _shared.Count == 0 || (_shared.Count == 1 && _shared.Contains(owner));

    public bool TryShared(ulong owner)
    {
        if (_exclusive)
        {
            if (_exclusiveOwner != owner)
            {
                return false;
            }
            // Downgrade.
            _exclusive = false;
        }
        else if (_waitingOwner != 0 && _waitingOwner != owner && !_shared.Contains(owner))
        {
            return false;
        }
        _shared.Add(owner);
        return true;
    }

    public bool TryExclusive(ulong owner)
    {
        if (!CanExclusive(owner) || (_waitingOwner != 0 && _waitingOwner != owner && !(_exclusive && _exclusiveOwner == owner)))
        {
            return false;
        }
        _shared.Remove(owner);
        _exclusive = true;
        _exclusiveOwner = owner;
        return true;
    }

    /// <summary>
    /// Takes the lock exclusively, or else becomes its waiting owner (if it has none) so that
    /// nobody else takes it shared until this owner gets it or unlocks.
    /// </summary>
    public bool TryExclusiveOrWait(ulong owner)
    {
        if (TryExclusive(owner))
        {
            if (_waitingOwner == owner)
            {
                _waitingOwner = 0;
            }
            return true;
        }
        if (_waitingOwner == 0)
        {
            _waitingOwner = owner;
        }
        return false;
    }

    /// <summary>Who holds the lock and who waits for it, for a log line ("READ1 shared by 3,7 (awaited by F1F5…)").</summary>
    public string Describe() =>
        (_exclusive ? $"{Name} exclusive by {_exclusiveOwner:X}" : _shared.Count > 0 ? $"{Name} shared by {string.Join(",", _shared.Select(o => o.ToString("X", System.Globalization.CultureInfo.InvariantCulture)))}" : $"{Name} free")
        + (_waitingOwner != 0 ? $" (awaited by {_waitingOwner:X})" : "");

    public void Unlock(ulong owner)
    {
        if (_waitingOwner == owner)
        {
            _waitingOwner = 0;
        }
        if (_exclusive && _exclusiveOwner == owner)
        {
            _exclusive = false;
        }
        _shared.Remove(owner);
    }
}
