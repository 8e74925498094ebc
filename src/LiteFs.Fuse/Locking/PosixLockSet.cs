namespace LiteFs.Fuse.Locking;

/// <summary>
/// The POSIX record locks of one file, kept in memory: what a file system implementing
/// <see cref="IHandleLocks"/> needs when the locks only have to hold among users of the mount.
/// Locks of different owners conflict when their ranges overlap and either is a write lock; an
/// owner's own locks are split, replaced or merged as fcntl(2) specifies. Waiting acquirers
/// (F_SETLKW) retry whenever locks are released and give up with EINTR when cancelled.
/// Deadlock detection (EDEADLK) is not implemented.
/// </summary>
public sealed class PosixLockSet
{
    private readonly Lock _lock = new();
    private readonly List<FileLock> _locks = [];
    private TaskCompletionSource? _released;

    /// <summary>How many lock ranges are held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _locks.Count;
            }
        }
    }

    /// <summary>F_GETLK: the first lock that conflicts with <paramref name="request"/>, or one of type <see cref="LockType.Unlock"/>.</summary>
    public FileLock Test(in FileLock request)
    {
        lock (_lock)
        {
            return FindConflict(in request) is { } index ? _locks[index] : new FileLock { Type = LockType.Unlock };
        }
    }

    /// <summary>F_SETLK: acquires, converts or releases without waiting; EAGAIN on a conflict.</summary>
    public Errno TrySet(in FileLock request)
    {
        bool released;
        lock (_lock)
        {
            if (request.Type != LockType.Unlock && FindConflict(in request) is not null)
            {
                return Errno.EAGAIN;
            }
            released = Apply(in request);
        }
        if (released)
        {
            WakeWaiters();
        }
        return Errno.Ok;
    }

    /// <summary>
    /// F_SETLK or F_SETLKW. Without <paramref name="wait"/> this completes synchronously. With it,
    /// it completes when the lock is granted, or with EINTR when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public ValueTask<Errno> SetAsync(FileLock request, bool wait, CancellationToken cancellationToken)
    {
        var errno = TrySet(in request);
        return errno == Errno.EAGAIN && wait ? WaitAndSetAsync(request, cancellationToken) : new ValueTask<Errno>(errno);
    }

    /// <summary>Releases every lock of <paramref name="owner"/> (on close: flush carries the owner).</summary>
    public void ReleaseOwner(ulong owner)
    {
        var released = false;
        lock (_lock)
        {
            for (var i = _locks.Count - 1; i >= 0; i--)
            {
                if (_locks[i].Owner == owner)
                {
                    _locks.RemoveAt(i);
                    released = true;
                }
            }
        }
        if (released)
        {
            WakeWaiters();
        }
    }

    private async ValueTask<Errno> WaitAndSetAsync(FileLock request, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task released;
            lock (_lock)
            {
                if (FindConflict(in request) is null)
                {
                    Apply(in request);
                    return Errno.Ok;
                }
                released = (_released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            try
            {
                await released.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return Errno.EINTR;
            }
        }
    }

    private int? FindConflict(in FileLock request)
    {
        for (var i = 0; i < _locks.Count; i++)
        {
            var held = _locks[i];
            if (held.Owner != request.Owner && held.Overlaps(request.Start, request.End) &&
                (held.Type == LockType.Write || request.Type == LockType.Write))
            {
                return i;
            }
        }
        return null;
    }

    /// <summary>Replaces the owner's locks in the request's range with the request.</summary>
    /// <returns>True when some bytes were unlocked or downgraded (waiters may proceed).</returns>
    private bool Apply(in FileLock request)
    {
        var released = false;
        FileLock? left = null;
        FileLock? right = null;
        for (var i = _locks.Count - 1; i >= 0; i--)
        {
            var held = _locks[i];
            if (held.Owner != request.Owner || !held.Overlaps(request.Start, request.End))
            {
                continue;
            }
            _locks.RemoveAt(i);
            released |= held.Type == LockType.Write || request.Type == LockType.Unlock;
            // An owner's ranges never overlap each other, so at most one piece survives on each side.
            if (held.Start < request.Start)
            {
                left = held with { End = request.Start - 1 };
            }
            if (held.End > request.End)
            {
                right = held with { Start = request.End + 1 };
            }
        }
        if (left is { } l)
        {
            _locks.Add(l);
        }
        if (right is { } r)
        {
            _locks.Add(r);
        }
        if (request.Type != LockType.Unlock)
        {
            _locks.Add(request with { IsFlock = false });
        }
        return released;
    }

    private void WakeWaiters()
    {
        TaskCompletionSource? released;
        lock (_lock)
        {
            released = _released;
            _released = null;
        }
        released?.TrySetResult();
    }
}
