using System.Collections.Concurrent;
using LiteFs.Core.Leases;
using LiteFs.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace LiteFs.Core.Tests.Leases;

/// <summary>
/// The nodes of one test on one fake clock and one lease backend, with a record of every role
/// change in the order it happened, and a check that no two nodes could write at once.
/// </summary>
internal sealed class LeaseCluster : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly List<LeaseNode> _nodes = [];
    private int _writers;

    public LeaseCluster()
    {
        Backend = new LeaseBackend(Time);
    }

    public FakeTimeProvider Time { get; } = new();

    public LeaseBackend Backend { get; }

    /// <summary>Every role change: node, whether it may write, fake time, in the order they were made.</summary>
    public ConcurrentQueue<(string Node, bool CanWrite, DateTimeOffset At)> Changes { get; } = new();

    /// <summary>Set when two nodes could write at the same time.</summary>
    public string? Overlap { get; private set; }

    /// <summary>The cluster ID nodes have unless a test says otherwise (as a replica has it, adopted from its primary).</summary>
    public const string SharedClusterId = "LFSC0000000000000C1D";

    public LeaseNode Add(string name, TimeSpan? ttl = null, LeaseMonitorOptions? options = null, string? clusterId = SharedClusterId)
    {
        var node = new LeaseNode(this, name, ttl ?? TimeSpan.FromSeconds(10), options ?? new LeaseMonitorOptions(), clusterId);
        _nodes.Add(node);
        return node;
    }

    internal void OnRoleChanged(string node, RoleChange change)
    {
        Changes.Enqueue((node, change.CanWrite, Time.GetUtcNow()));
        var writers = change.CanWrite ? Interlocked.Increment(ref _writers) : Interlocked.Decrement(ref _writers);
        if (writers > 1)
        {
            Overlap ??= $"{node} may write while another node may too (at {Time.GetUtcNow():O})";
        }
    }

    /// <summary>
    /// Advances the fake clock by <paramref name="step"/> until <paramref name="condition"/> holds;
    /// before each step every node's loops have done all they could without the clock (<see cref="Quiesce"/>),
    /// so what happens at each instant of the fake clock does not depend on the machine's load.
    /// </summary>
    public TimeSpan AdvanceUntil(Func<bool> condition, string what, TimeSpan max, TimeSpan? step = null)
    {
        var by = step ?? TimeSpan.FromMilliseconds(100);
        var advanced = TimeSpan.Zero;
        while (true)
        {
            Quiesce();
            if (condition())
            {
                break;
            }
            if (advanced >= max)
            {
                throw new TimeoutException($"{what}: not after {max} on the fake clock\n{Dump()}");
            }
            Time.Advance(by);
            advanced += by;
        }
        return advanced;
    }

    /// <summary>Every node's log and state, for a failure message.</summary>
    public string Dump() => string.Join("\n", _nodes.Select(n =>
        $"{n.Name}: state {n.Monitor.State}, primary {n.Monitor.Primary}, can write {n.Role.CanWrite}, watch polls {n.Leaser.Calls("watch")}, backend {Backend.Holder}\n  "
        + string.Join("\n  ", n.Log.Entries.Select(l => $"{l.EventId} {l.Message}"))));

    /// <summary>Advances by <paramref name="total"/> in steps, letting the loops do all they can between them.</summary>
    public void Advance(TimeSpan total, TimeSpan? step = null)
    {
        var by = step ?? TimeSpan.FromMilliseconds(100);
        for (var done = TimeSpan.Zero; done < total; done += by)
        {
            Quiesce();
            Time.Advance(by < total - done ? by : total - done);
        }
        Quiesce();
    }

    /// <summary>Waits (in real time) until every node's loops wait for the clock or for a fault.</summary>
    public void Quiesce()
    {
        if (!Settle(() => _nodes.TrueForAll(n => n.IsWaiting), Patience))
        {
            throw new TimeoutException($"the nodes did not settle within {Patience}\n{Dump()}");
        }
    }

    /// <summary>Waits in real time for <paramref name="condition"/>, failing after <see cref="Patience"/>.</summary>
    public static void WaitFor(Func<bool> condition, string what)
    {
        if (!Settle(condition, Patience))
        {
            throw new TimeoutException($"{what}: not within {Patience}");
        }
    }

    /// <summary>Whether <paramref name="condition"/> holds within <paramref name="wait"/> of real time.</summary>
    public static bool Settle(Func<bool> condition, TimeSpan wait)
    {
        var until = DateTime.UtcNow + wait;
        while (!condition())
        {
            if (DateTime.UtcNow >= until)
            {
                return false;
            }
            Thread.Sleep(2);
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            // A release on stop waits on the fake clock (a test may have made it hang): keep it moving.
            var stopping = node.DisposeAsync().AsTask();
            var until = DateTime.UtcNow + Patience;
            while (!stopping.IsCompleted)
            {
                if (DateTime.UtcNow >= until)
                {
                    throw new TimeoutException($"{node.Name} did not stop within {Patience}\n{Dump()}");
                }
                Time.Advance(TimeSpan.FromSeconds(1));
                await Task.WhenAny(stopping, Task.Delay(10));
            }
            await stopping;
        }
    }
}

/// <summary>One node: its leaser (with faults), its real <see cref="NodeRole"/>, its monitor, and its log.</summary>
internal sealed class LeaseNode : IAsyncDisposable
{
    private readonly LeaseCluster _cluster;

    public LeaseNode(LeaseCluster cluster, string name, TimeSpan ttl, LeaseMonitorOptions options, string? clusterId)
    {
        _cluster = cluster;
        Name = name;
        LocalClusterId = clusterId;
        Self = new PrimaryInfo(name, $"http://{name}:20202");
        Leaser = new FaultyLeaser(cluster.Backend, Self, ttl, cluster.Time);
        Role.Changed += change => cluster.OnRoleChanged(name, change);
        Monitor = new LeaseMonitor(Leaser, options with
        {
            LocalClusterId = () => LocalClusterId,
            AdoptClusterId = id => { Adopted.Enqueue(id); LocalClusterId = id; },
        }, cluster.Time, Log);
        Monitor.PrimaryChanged += p => Published.Enqueue(p);
    }

    public string Name { get; }

    public PrimaryInfo Self { get; }

    public string? LocalClusterId { get; set; }

    public ConcurrentQueue<string> Adopted { get; } = new();

    public ConcurrentQueue<PrimaryInfo?> Published { get; } = new();

    public FaultyLeaser Leaser { get; }

    public NodeRole Role { get; } = new(Core.Role.Replica);

    public LeaseMonitor Monitor { get; }

    public LogRecorder Log { get; } = new();

    public bool IsPrimary => Role.CanWrite;

    /// <summary>Whether both loops wait on the clock or in a fault (or the node was never started or has stopped).</summary>
    public bool IsWaiting => !_started
        || ((Monitor.LoopWaiting || Leaser.WaitingCalls > 0) && (Monitor.WatchPaused || Leaser.WatchWaiting));

    private bool _started;

    public LeaseNode Start()
    {
        _started = true;
        Monitor.Start(Role);
        return this;
    }

    /// <summary>Starts the node and waits until it is primary (it is alone, or nobody holds the lease).</summary>
    public LeaseNode StartPrimary()
    {
        Start();
        LeaseCluster.WaitFor(() => IsPrimary, $"{Name} to become primary");
        return this;
    }

    public ValueTask DisposeAsync() => Monitor.DisposeAsync();
}
