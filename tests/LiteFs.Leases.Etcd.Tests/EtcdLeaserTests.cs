using LiteFs.TestKit;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LiteFs.Core.Leases;

namespace LiteFs.Leases.Etcd.Tests;

/// <summary>One etcd for the tests of a class; each test uses keys of its own.</summary>
public sealed class EtcdFixture : IDisposable
{
    public EtcdServer Server { get; } = EtcdServer.Start();

    public void Dispose() => Server.Dispose();
}

/// <summary>The etcd lease against a real etcd: every operation a node makes on it, with a short TTL.</summary>
public sealed class EtcdLeaserTests(EtcdFixture etcd) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);
    private readonly string _key = $"/litefs/test-{Guid.NewGuid():N}/primary";
    private readonly List<EtcdLeaser> _leasers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var leaser in _leasers)
        {
            await leaser.DisposeAsync();
        }
    }

    private EtcdLeaser Node(string name, TimeSpan? ttl = null)
    {
        var leaser = new EtcdLeaser(new EtcdLeaserOptions
        {
            Endpoints = [etcd.Server.Url],
            Key = _key,
            Ttl = ttl ?? Ttl,
            Hostname = name,
            AdvertiseUrl = $"http://{name}.internal:20202",
        });
        _leasers.Add(leaser);
        return leaser;
    }

    private static CancellationToken Soon => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    [Fact]
    public async Task Acquire_NobodyHoldsIt_WritesThePrimaryInfoJsonUnderAnEtcdLease()
    {
        var a = Node("node-a");
        var grant = await a.AcquireAsync(Soon);

        Assert.True(long.Parse(grant.Id, System.Globalization.CultureInfo.InvariantCulture) != 0);
        Assert.Equal(Ttl, grant.Ttl);
        Assert.Equal(new PrimaryInfo("node-a", "http://node-a.internal:20202"), await a.PrimaryInfoAsync(Soon));
        var (value, lease) = await RawAsync(_key);
        Assert.Equal("{\"hostname\":\"node-a\",\"advertise-url\":\"http://node-a.internal:20202\"}", value);
        Assert.Equal(grant.Id, lease);
    }

    [Fact]
    public async Task Acquire_SomeoneHoldsIt_RefusedWithTheHoldersUrl()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        await a.AcquireAsync(Soon);

        var ex = await Assert.ThrowsAsync<LeaseHeldException>(() => b.AcquireAsync(Soon));
        Assert.Equal(new PrimaryInfo("node-a", "http://node-a.internal:20202"), ex.Holder);
        Assert.Equal("lease already held by node-a (http://node-a.internal:20202)", ex.Message);
        Assert.Equal(a.Self, await b.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task Renew_KeepsTheLeaseWellPastItsTtl()
    {
        var a = Node("node-a");
        var grant = await a.AcquireAsync(Soon);
        for (var i = 0; i < 8; i++)
        {
            await Task.Delay(500);
            await a.RenewAsync(grant, Soon);
        }
        Assert.Equal(a.Self, await a.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task NotRenewed_ExpiresAfterTheTtl_ThenRenewSaysExpiredAndAnotherNodeAcquires()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        // The etcd lease's TTL runs from its grant, inside AcquireAsync.
        var started = DateTime.UtcNow;
        var grant = await a.AcquireAsync(Soon);

        await Task.Delay(1000);
        Assert.Equal(a.Self, await b.PrimaryInfoAsync(Soon));
        while (await b.PrimaryInfoAsync(Soon) is not null)
        {
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(6), "the lease did not expire within three TTLs");
            await Task.Delay(100);
        }
        Assert.True(DateTime.UtcNow - started >= Ttl - TimeSpan.FromMilliseconds(100), "expired before its TTL");

        var ex = await Assert.ThrowsAsync<LeaseExpiredException>(() => a.RenewAsync(grant, Soon));
        Assert.Contains(grant.Id, ex.Message, StringComparison.Ordinal);
        await b.AcquireAsync(Soon);
        Assert.Equal(b.Self, await a.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task Release_RemovesTheKey_AnotherNodeAcquiresAtOnce()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);

        await a.ReleaseAsync(grant, Soon);
        Assert.Null(await b.PrimaryInfoAsync(Soon));
        await b.AcquireAsync(Soon);
        // Releasing again, or a lease already gone, is not an error.
        await a.ReleaseAsync(grant, Soon);
        await Assert.ThrowsAsync<LeaseExpiredException>(() => a.RenewAsync(grant, Soon));
    }

    [Fact]
    public async Task Watch_SeesEveryChangeOfHolder()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var watcher = Node("watcher");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<PrimaryInfo?>();
        var changed = new SemaphoreSlim(0);
        var watch = Task.Run(async () =>
        {
            await foreach (var holder in watcher.WatchAsync(stop.Token))
            {
                lock (seen)
                {
                    seen.Add(holder);
                }
                changed.Release();
            }
        });

        async Task Expect(PrimaryInfo? holder)
        {
            Assert.True(await changed.WaitAsync(TimeSpan.FromSeconds(10)), $"no change after {string.Join(", ", seen)}");
            lock (seen)
            {
                Assert.Equal(holder, seen[^1]);
            }
        }

        await Expect(null);
        var grant = await a.AcquireAsync(Soon);
        await Expect(a.Self);
        await a.ReleaseAsync(grant, Soon);
        await Expect(null);
        var bGrant = await b.AcquireAsync(Soon);
        await Expect(b.Self);
        // A renewal changes nothing: no event.
        await b.RenewAsync(bGrant, Soon);
        Assert.False(await changed.WaitAsync(TimeSpan.FromMilliseconds(300)));
        // Expiry is seen too.
        await Expect(null);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);
        Assert.Equal([null, a.Self, null, b.Self, null], seen);
    }

    [Fact]
    public async Task ClusterId_RoundTrip_AndASecondIdRefused()
    {
        var a = Node("node-a");
        Assert.Null(await a.ClusterIdAsync(Soon));
        await a.SetClusterIdAsync("LFSC0123456789ABCDEF", Soon);
        Assert.Equal("LFSC0123456789ABCDEF", await Node("node-b").ClusterIdAsync(Soon));
        Assert.Equal("LFSC0123456789ABCDEF", (await RawAsync(_key + "/clusterid")).Value);

        await a.SetClusterIdAsync("LFSC0123456789ABCDEF", Soon);
        var ex = await Assert.ThrowsAsync<LeaseException>(() => a.SetClusterIdAsync("LFSC0000000000000001", Soon));
        Assert.StartsWith("cluster already initialized, cannot set cluster id", ex.Message, StringComparison.Ordinal);
        Assert.Contains("LFSC0123456789ABCDEF", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcquireExisting_HandedOverLease_TargetWritesItselfUnderTheSameLease()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);

        var taken = await b.AcquireExistingAsync(grant.Id, Soon);
        Assert.Equal(grant.Id, taken.Id);
        Assert.Equal(b.Self, await a.PrimaryInfoAsync(Soon));
        Assert.Equal(grant.Id, (await RawAsync(_key)).Lease);
        await b.RenewAsync(taken, Soon);
    }

    [Fact]
    public async Task AcquireExisting_RevokedLease_Expired()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);
        await a.ReleaseAsync(grant, Soon);

        await Assert.ThrowsAsync<LeaseExpiredException>(() => b.AcquireExistingAsync(grant.Id, Soon));
        Assert.Null(await b.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task SecondEndpointDown_FirstAnswers_AndTheReverse()
    {
        var dead = $"http://127.0.0.1:{LiteFs.TestKit.FreePort.Next()}";
        foreach (var endpoints in new[] { new[] { etcd.Server.Url, dead }, new[] { dead, etcd.Server.Url } })
        {
            await using var leaser = new EtcdLeaser(new EtcdLeaserOptions
            {
                Endpoints = endpoints,
                Key = _key + "-" + endpoints[0].Length,
                Ttl = Ttl,
                Hostname = "n",
                AdvertiseUrl = "http://n:1",
            });
            var grant = await leaser.AcquireAsync(Soon);
            await leaser.RenewAsync(grant, Soon);
            await leaser.ReleaseAsync(grant, Soon);
        }
    }

    [Theory]
    [InlineData(500)]
    [InlineData(1500)]
    public void Options_TtlNotWholeSecondsOrTooShort_Refused(int ms)
    {
        var ex = Assert.Throws<ArgumentException>(() => new EtcdLeaser(new EtcdLeaserOptions
        {
            Endpoints = [etcd.Server.Url],
            Key = _key,
            Ttl = TimeSpan.FromMilliseconds(ms),
            Hostname = "n",
            AdvertiseUrl = "http://n:1",
        }));
        Assert.Contains("lease.etcd.ttl", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The key's value (UTF-8) and its lease ID, read with a plain HTTP request.</summary>
    private async Task<(string? Value, string? Lease)> RawAsync(string key)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsJsonAsync($"{etcd.Server.Url}/v3/kv/range", new Dictionary<string, string> { ["key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)) });
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (!doc.RootElement.TryGetProperty("kvs", out var kvs))
        {
            return (null, null);
        }
        var kv = kvs[0];
        return (Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("value").GetString()!)),
            kv.TryGetProperty("lease", out var lease) ? lease.GetString() : null);
    }
}
