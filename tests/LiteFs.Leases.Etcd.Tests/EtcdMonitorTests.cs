using System.Collections.Concurrent;
using LiteFs.Core;
using LiteFs.Core.Leases;
using LiteFs.TestKit;

namespace LiteFs.Leases.Etcd.Tests;

/// <summary>
/// Two nodes' lease state machines on a real etcd, in real time with a 2 s TTL: failover when
/// the primary stops, and when it is cut off from etcd (its connections stalled through a
/// <see cref="FaultProxy"/>), in which case it stops writing before the other node can get in.
/// </summary>
public sealed class EtcdMonitorTests(EtcdFixture etcd) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private readonly string _key = $"/litefs/monitor-{Guid.NewGuid():N}/primary";
    private readonly ConcurrentQueue<(string Node, bool CanWrite, DateTime At)> _changes = new();
    private readonly List<IAsyncDisposable> _cleanup = [];
    private int _writers;
    private string? _overlap;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }
        Assert.Null(_overlap);
    }

    private (LeaseMonitor Monitor, NodeRole Role) Node(string name, string endpoint)
    {
        var leaser = new EtcdLeaser(new EtcdLeaserOptions
        {
            Endpoints = [endpoint],
            Key = _key,
            Ttl = TimeSpan.FromSeconds(2),
            Hostname = name,
            AdvertiseUrl = $"http://{name}:20202",
            RequestTimeout = TimeSpan.FromSeconds(1),
        });
        var role = new NodeRole(Role.Replica);
        role.Changed += change =>
        {
            _changes.Enqueue((name, change.CanWrite, DateTime.UtcNow));
            if ((change.CanWrite ? Interlocked.Increment(ref _writers) : Interlocked.Decrement(ref _writers)) > 1)
            {
                _overlap ??= $"{name} may write while another node may too";
            }
        };
        var clusterId = "LFSC0000000000000E7C";
        var monitor = new LeaseMonitor(leaser, new LeaseMonitorOptions
        {
            LocalClusterId = () => clusterId,
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
        });
        _cleanup.Add(leaser);
        _cleanup.Add(monitor);
        monitor.Start(role);
        return (monitor, role);
    }

    private static void WaitFor(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var until = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"{what}: not within {within ?? TimeSpan.FromSeconds(20)}");
            }
            Thread.Sleep(20);
        }
    }

    [Fact]
    public async Task PrimaryStops_OtherNodeTakesOverWithinAMoment()
    {
        var (a, aRole) = Node("a", etcd.Server.Url);
        WaitFor(() => aRole.CanWrite, "a to become primary");
        var (b, bRole) = Node("b", etcd.Server.Url);
        WaitFor(() => b.Primary?.Hostname == "a", "b to follow a");
        Assert.Equal("http://a:20202", b.PrimaryAdvertiseUrl);

        await a.StopAsync();
        var stopped = DateTime.UtcNow;
        WaitFor(() => bRole.CanWrite, "b to take over", TimeSpan.FromSeconds(5));
        Assert.True(DateTime.UtcNow - stopped < TimeSpan.FromSeconds(1.5), "b waited for the TTL instead of seeing the release");
    }

    [Fact]
    public void PrimaryCutOffFromEtcd_StopsWritingBeforeTheOtherNodeTakesOver()
    {
        using var proxy = new FaultProxy(etcd.Server.ClientPort);
        var (_, aRole) = Node("a", proxy.Url);
        WaitFor(() => aRole.CanWrite, "a to become primary");
        var (b, bRole) = Node("b", etcd.Server.Url);
        WaitFor(() => b.Primary?.Hostname == "a", "b to follow a");

        proxy.Stalled = true;
        WaitFor(() => bRole.CanWrite, "b to take over", TimeSpan.FromSeconds(10));

        var changes = _changes.ToArray();
        var aStopped = Array.FindIndex(changes, c => c is { Node: "a", CanWrite: false });
        var bStarted = Array.FindIndex(changes, c => c is { Node: "b", CanWrite: true });
        Assert.True(aStopped >= 0 && aStopped < bStarted, string.Join(", ", changes));
        Assert.False(aRole.CanWrite);
        proxy.Stalled = false;
    }
}
