using LiteFs.Core;
using LiteFs.Core.Leases;

namespace LiteFs.Leases.Consul.Tests;

/// <summary>Two nodes' lease state machines on Consul (agent or stand-in), in real time.</summary>
public sealed class ConsulMonitorTests(ConsulFixture consul) : IClassFixture<ConsulFixture>, IAsyncLifetime
{
    private readonly string _key = $"litefs-{Guid.NewGuid():N}/primary";
    private readonly List<IAsyncDisposable> _cleanup = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }
    }

    private (LeaseMonitor Monitor, NodeRole Role, List<string?> Adopted) Node(string name, string? clusterId)
    {
        var leaser = new ConsulLeaser(new ConsulLeaserOptions
        {
            Url = consul.Url,
            Key = _key,
            Ttl = TimeSpan.FromSeconds(2),
            Hostname = name,
            AdvertiseUrl = $"http://{name}:20202",
            WatchWait = TimeSpan.FromSeconds(2),
        });
        var role = new NodeRole(Role.Replica);
        var adopted = new List<string?>();
        var monitor = new LeaseMonitor(leaser, new LeaseMonitorOptions
        {
            LocalClusterId = () => clusterId,
            AdoptClusterId = id => { adopted.Add(id); clusterId = id; },
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
        });
        _cleanup.Add(leaser);
        _cleanup.Add(monitor);
        monitor.Start(role);
        return (monitor, role, adopted);
    }

    private static void WaitFor(Func<bool> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"{what}: not within {seconds} s");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public async Task FirstPrimary_StoresANewClusterId_OtherNodeFollows_ThenTakesOverOnStop()
    {
        var (a, aRole, adopted) = Node("a", clusterId: null);
        WaitFor(() => aRole.CanWrite, "a to become primary");
        var id = Assert.Single(adopted);
        Assert.True(Store.IsValidClusterId(id!), id);
        Assert.Equal(id, await a.Leaser.ClusterIdAsync(CancellationToken.None));

        var (b, bRole, _) = Node("b", clusterId: id);
        WaitFor(() => b.Primary?.Hostname == "a", "b to follow a");
        await a.StopAsync();
        WaitFor(() => bRole.CanWrite, "b to take over", seconds: 5);
        Assert.False(aRole.CanWrite);
    }
}
