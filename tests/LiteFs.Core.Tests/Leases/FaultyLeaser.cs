using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using LiteFs.Core.Leases;
using Microsoft.Extensions.Time.Testing;

namespace LiteFs.Core.Tests.Leases;

/// <summary>
/// One lease key in memory, on the test's fake clock, shared by the nodes of a test: who holds it,
/// under which lease ID, until when, and the cluster ID beside it. Expiry is exact: a lease not
/// renewed is gone at its TTL.
/// </summary>
internal sealed class LeaseBackend(FakeTimeProvider time)
{
    private readonly Lock _lock = new();
    private PrimaryInfo? _holder;
    private string? _leaseId;
    private DateTimeOffset _expires;
    private TimeSpan _ttl;
    private int _nextId;
    private string? _clusterId;

    public DateTimeOffset ExpiresAt
    {
        get
        {
            lock (_lock)
            {
                return _expires;
            }
        }
    }

    public string? LeaseId
    {
        get
        {
            lock (_lock)
            {
                Sweep();
                return _leaseId;
            }
        }
    }

    public PrimaryInfo? Holder
    {
        get
        {
            lock (_lock)
            {
                Sweep();
                return _holder;
            }
        }
    }

    public string? ClusterId
    {
        get
        {
            lock (_lock)
            {
                return _clusterId;
            }
        }
        set
        {
            lock (_lock)
            {
                _clusterId = value;
            }
        }
    }

    public LeaseGrant Acquire(PrimaryInfo self, TimeSpan ttl)
    {
        lock (_lock)
        {
            Sweep();
            if (_holder is not null)
            {
                throw new LeaseHeldException(_holder);
            }
            _holder = self;
            _leaseId = $"lease-{++_nextId}";
            _ttl = ttl;
            _expires = time.GetUtcNow() + ttl;
            return new LeaseGrant(_leaseId, ttl);
        }
    }

    public LeaseGrant AcquireExisting(string leaseId, PrimaryInfo self)
    {
        lock (_lock)
        {
            Sweep();
            if (_leaseId != leaseId)
            {
                throw new LeaseExpiredException($"lease {leaseId} not found");
            }
            _holder = self;
            _expires = time.GetUtcNow() + _ttl;
            return new LeaseGrant(leaseId, _ttl);
        }
    }

    public void Renew(string leaseId)
    {
        lock (_lock)
        {
            Sweep();
            if (_leaseId != leaseId)
            {
                throw new LeaseExpiredException($"lease {leaseId} not found");
            }
            _expires = time.GetUtcNow() + _ttl;
        }
    }

    public void Release(string leaseId)
    {
        lock (_lock)
        {
            if (_leaseId == leaseId)
            {
                _holder = null;
                _leaseId = null;
            }
        }
    }

    /// <summary>The lease disappears now, as if it expired or an operator deleted the key.</summary>
    public void Drop() => Overwrite(null);

    /// <summary>Another node's info replaces the holder, under a lease ID of its own.</summary>
    public void Overwrite(PrimaryInfo? holder)
    {
        lock (_lock)
        {
            _holder = holder;
            _leaseId = holder is null ? null : $"lease-{++_nextId}";
            _expires = time.GetUtcNow() + TimeSpan.FromHours(1);
        }
    }

    public void SetClusterId(string id)
    {
        lock (_lock)
        {
            if (_clusterId is not null && _clusterId != id)
            {
                throw new LeaseException("cluster already initialized, cannot set cluster id");
            }
            _clusterId = id;
        }
    }

    private void Sweep()
    {
        if (_holder is not null && time.GetUtcNow() >= _expires)
        {
            _holder = null;
            _leaseId = null;
        }
    }
}

/// <summary>
/// A node's <see cref="ILeaser"/> on a <see cref="LeaseBackend"/>, with faults injected per
/// operation ("acquire", "existing", "renew", "release", "primary", "watch", "clusterid",
/// "setclusterid"): a fault runs before the operation and may throw, or wait (until cancelled,
/// or forever). The watch polls the backend every 100 ms of the fake clock.
/// </summary>
internal sealed class FaultyLeaser(LeaseBackend backend, PrimaryInfo self, TimeSpan ttl, FakeTimeProvider time) : ILeaser
{
    private readonly ConcurrentDictionary<string, Func<CancellationToken, Task>> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private int _waitingCalls;
    private int _watchWaiting;

    /// <summary>Calls other than the watch that wait in a fault now.</summary>
    public int WaitingCalls => Volatile.Read(ref _waitingCalls);

    /// <summary>Whether the watch waits (for its next poll, or in a fault).</summary>
    public bool WatchWaiting => Volatile.Read(ref _watchWaiting) > 0;

    public string Type => "fake";

    public PrimaryInfo Self => self;

    public bool SupportsHandoff => true;

    /// <summary>Called (on the caller's thread) at each release, before the backend sees it.</summary>
    public Action? OnRelease { get; set; }

    public int Calls(string operation) => _calls.GetValueOrDefault(operation);

    /// <summary>Every call of <paramref name="operation"/> from now on runs <paramref name="fault"/> first.</summary>
    public void Inject(string operation, Func<CancellationToken, Task> fault) => _faults[operation] = fault;

    /// <summary>Every call of <paramref name="operation"/> from now on fails as an unreachable backend.</summary>
    public void Fail(string operation) => Inject(operation, _ => throw new LeaseException($"fake backend unreachable ({operation})"));

    /// <summary>Every call of <paramref name="operation"/> from now on hangs until cancelled.</summary>
    public void Hang(string operation) => Inject(operation, ct => Task.Delay(Timeout.Infinite, ct));

    /// <summary>Removes the fault of <paramref name="operation"/>.</summary>
    public void Heal(string operation) => _faults.TryRemove(operation, out _);

    public async Task<LeaseGrant> AcquireAsync(CancellationToken cancellationToken)
    {
        await Enter("acquire", cancellationToken);
        return backend.Acquire(self, ttl);
    }

    public async Task<LeaseGrant> AcquireExistingAsync(string leaseId, CancellationToken cancellationToken)
    {
        await Enter("existing", cancellationToken);
        return backend.AcquireExisting(leaseId, self);
    }

    public async Task RenewAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        await Enter("renew", cancellationToken);
        backend.Renew(lease.Id);
    }

    public async Task ReleaseAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        await Enter("release", cancellationToken);
        OnRelease?.Invoke();
        backend.Release(lease.Id);
    }

    public async Task<PrimaryInfo?> PrimaryInfoAsync(CancellationToken cancellationToken)
    {
        await Enter("primary", cancellationToken);
        return backend.Holder;
    }

    public async IAsyncEnumerable<PrimaryInfo?> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Enter("watch", cancellationToken);
        var last = backend.Holder;
        yield return last;
        while (true)
        {
            await Park(Task.Delay(PollInterval, time, cancellationToken), watch: true);
            await Enter("watch", cancellationToken);
            var now = backend.Holder;
            if (!Equals(now, last))
            {
                last = now;
                yield return now;
            }
        }
    }

    public async Task<string?> ClusterIdAsync(CancellationToken cancellationToken)
    {
        await Enter("clusterid", cancellationToken);
        return backend.ClusterId;
    }

    public async Task SetClusterIdAsync(string clusterId, CancellationToken cancellationToken)
    {
        await Enter("setclusterid", cancellationToken);
        backend.SetClusterId(clusterId);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Awaits <paramref name="wait"/>, counted as waiting until it completes (counted down on the completing thread).</summary>
    private async Task Park(Task wait, bool watch)
    {
        Interlocked.Increment(ref watch ? ref _watchWaiting : ref _waitingCalls);
        _ = wait.ContinueWith(_ => Interlocked.Decrement(ref watch ? ref _watchWaiting : ref _waitingCalls),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await wait;
    }

    private async Task Enter(string operation, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(operation, 1, (_, n) => n + 1);
        if (_faults.TryGetValue(operation, out var fault))
        {
            await Park(fault(cancellationToken), operation == "watch");
        }
        cancellationToken.ThrowIfCancellationRequested();
    }
}
