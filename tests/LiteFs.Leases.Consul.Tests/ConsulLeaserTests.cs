using System.Diagnostics;
using LiteFs.Core.Leases;
using LiteFs.TestKit;

namespace LiteFs.Leases.Consul.Tests;

/// <summary>
/// The Consul lease against a real agent when one is installed, else the stand-in: every
/// operation a node makes, with a 2 s session TTL. A real agent may let a session live up to
/// twice its TTL, so waits for expiry allow that.
/// </summary>
public sealed class ConsulLeaserTests(ConsulFixture consul) : IClassFixture<ConsulFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);
    private readonly string _key = $"litefs-{Guid.NewGuid():N}/primary";
    private readonly List<ConsulLeaser> _leasers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var leaser in _leasers)
        {
            await leaser.DisposeAsync();
        }
    }

    private ConsulLeaser Node(string name, TimeSpan? lockDelay = null, string? url = null)
    {
        var leaser = new ConsulLeaser(new ConsulLeaserOptions
        {
            Url = url ?? consul.Url,
            Key = _key,
            Ttl = Ttl,
            LockDelay = lockDelay ?? TimeSpan.FromSeconds(1),
            Hostname = name,
            AdvertiseUrl = $"http://{name}.internal:20202",
            WatchWait = TimeSpan.FromSeconds(2),
        });
        _leasers.Add(leaser);
        return leaser;
    }

    private static CancellationToken Soon => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    private async Task<string?> RawAsync(string key)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync($"{consul.Url}/v1/kv/{key}?raw");
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
    }

    [Fact]
    public async Task Acquire_NobodyHoldsIt_SessionWithUpstreamsSettings_KeyHoldsThePrimaryInfo()
    {
        var a = Node("node-a");
        var grant = await a.AcquireAsync(Soon);

        Assert.True(Guid.TryParse(grant.Id, out _), grant.Id);
        Assert.Equal(Ttl, grant.Ttl);
        Assert.Equal("{\"hostname\":\"node-a\",\"advertise-url\":\"http://node-a.internal:20202\"}", await RawAsync(_key));
        Assert.Equal(a.Self, await Node("other").PrimaryInfoAsync(Soon));
        if (consul.StandIn is { } standIn)
        {
            var create = standIn.RequestLog().Last(r => r.StartsWith("PUT /v1/session/create", StringComparison.Ordinal));
            Assert.Contains("\"Name\":\"litefs\"", create, StringComparison.Ordinal);
            Assert.Contains("\"Behavior\":\"delete\"", create, StringComparison.Ordinal);
            Assert.Contains("\"TTL\":\"2s\"", create, StringComparison.Ordinal);
            Assert.Contains("\"LockDelay\":\"1000ms\"", create, StringComparison.Ordinal);
            Assert.Contains("\"NodeChecks\":[]", create, StringComparison.Ordinal);
            Assert.DoesNotContain("\"Node\":", create, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Acquire_SomeoneHoldsIt_RefusedWithTheHolder_AndItsSessionDestroyed()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        await a.AcquireAsync(Soon);
        var sessions = consul.StandIn?.SessionCount;

        var ex = await Assert.ThrowsAsync<LeaseHeldException>(() => b.AcquireAsync(Soon));
        Assert.Equal(a.Self, ex.Holder);
        Assert.Equal("lease already held by node-a (http://node-a.internal:20202)", ex.Message);
        if (consul.StandIn is { } standIn)
        {
            Assert.Equal(sessions, standIn.SessionCount);
        }
    }

    [Fact]
    public async Task Renew_KeepsTheSessionWellPastItsTtl()
    {
        var a = Node("node-a");
        var grant = await a.AcquireAsync(Soon);
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(500);
            await a.RenewAsync(grant, Soon);
        }
        Assert.Equal(a.Self, await a.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task NotRenewed_SessionExpires_KeyDeleted_LockDelayHoldsOthersOff_ThenRenewSaysExpired()
    {
        var a = Node("node-a", lockDelay: TimeSpan.FromSeconds(3));
        var b = Node("node-b");
        // The session's TTL runs from its creation, inside AcquireAsync.
        var started = Stopwatch.StartNew();
        var grant = await a.AcquireAsync(Soon);

        // Held while the TTL runs (checked at once: a loaded machine may take a while to get here).
        Assert.Equal(a.Self, await b.PrimaryInfoAsync(Soon));
        while (await b.PrimaryInfoAsync(Soon) is not null)
        {
            Assert.True(started.Elapsed < 2 * Ttl + TimeSpan.FromSeconds(3), "the session did not expire within twice its TTL");
            await Task.Delay(50);
        }
        Assert.True(started.Elapsed >= Ttl - TimeSpan.FromMilliseconds(100), $"expired after {started.Elapsed}, before its TTL");

        // Within the lock-delay the key cannot be taken, though nobody holds it.
        var held = await Assert.ThrowsAsync<LeaseHeldException>(() => b.AcquireAsync(Soon));
        Assert.Null(held.Holder);
        Assert.Contains("lock-delay", held.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<LeaseExpiredException>(() => a.RenewAsync(grant, Soon));

        while (true)
        {
            try
            {
                await b.AcquireAsync(Soon);
                break;
            }
            catch (LeaseHeldException)
            {
                Assert.True(started.Elapsed < 2 * Ttl + TimeSpan.FromSeconds(8), "still refused long after the lock-delay");
                await Task.Delay(200);
            }
        }
        Assert.Equal(b.Self, await a.PrimaryInfoAsync(Soon));
    }

    [Fact]
    public async Task Release_KeyFreedWithoutLockDelay_AnotherNodeAcquiresAtOnce()
    {
        var a = Node("node-a", lockDelay: TimeSpan.FromSeconds(10));
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);

        await a.ReleaseAsync(grant, Soon);
        Assert.Null(await b.PrimaryInfoAsync(Soon));
        await b.AcquireAsync(Soon);
        await Assert.ThrowsAsync<LeaseExpiredException>(() => a.RenewAsync(grant, Soon));
        // Releasing a lease already gone is not an error.
        await a.ReleaseAsync(grant, Soon);
    }

    [Fact]
    public async Task Watch_BlockingQueries_SeeEveryChangeOfHolder()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var watcher = Node("watcher");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(40));
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

        async Task Expect(PrimaryInfo? holder, int seconds = 10)
        {
            Assert.True(await changed.WaitAsync(TimeSpan.FromSeconds(seconds)), $"no change after {string.Join(", ", seen)}");
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
        // Quiet for longer than one blocking query's wait: nothing is reported.
        Assert.False(await changed.WaitAsync(TimeSpan.FromSeconds(3)));
        var bGrant = await b.AcquireAsync(Soon);
        await Expect(b.Self);
        await b.RenewAsync(bGrant, Soon);
        // The session expires: the key goes.
        await Expect(null, seconds: 15);

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
        Assert.Equal("LFSC0123456789ABCDEF", await RawAsync(_key + "/clusterid"));
        Assert.Equal("LFSC0123456789ABCDEF", await Node("node-b").ClusterIdAsync(Soon));

        await a.SetClusterIdAsync("LFSC0123456789ABCDEF", Soon);
        var ex = await Assert.ThrowsAsync<LeaseException>(() => a.SetClusterIdAsync("LFSC0000000000000001", Soon));
        Assert.StartsWith("cluster already initialized, cannot set cluster id", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcquireExisting_HandedOverSession_TargetWritesItself()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);

        var taken = await b.AcquireExistingAsync(grant.Id, Soon);
        Assert.Equal(grant.Id, taken.Id);
        Assert.Equal(b.Self, await a.PrimaryInfoAsync(Soon));
        await b.RenewAsync(taken, Soon);
    }

    /// <summary>
    /// A mixed cluster: the key's value as our node writes it is byte for byte what an upstream
    /// node writes for the same values (Go's <c>json.Marshal</c>), and a key an upstream node
    /// acquired (its session, its value) is read as that node, which holds the lease.
    /// </summary>
    [Fact]
    public async Task LeaseValue_UpstreamFormat_BothWays()
    {
        const string hostname = "fra-01";
        const string url = "http://[fdaa:0:1::3]:20202/?a=1&b=<2>";
        const string upstream = "{\"hostname\":\"fra-01\",\"advertise-url\":\"http://[fdaa:0:1::3]:20202/?a=1\\u0026b=\\u003c2\\u003e\"}";

        var ours = new ConsulLeaser(new ConsulLeaserOptions { Url = consul.Url, Key = _key, Ttl = Ttl, Hostname = hostname, AdvertiseUrl = url });
        _leasers.Add(ours);
        var grant = await ours.AcquireAsync(Soon);
        Assert.Equal(upstream, await RawAsync(_key));
        await ours.ReleaseAsync(grant, Soon);

        // An upstream node: its own session, and its value put with ?acquire.
        using var http = new HttpClient();
        using var created = await http.PutAsync($"{consul.Url}/v1/session/create",
            new StringContent("{\"Name\":\"litefs\",\"Behavior\":\"delete\",\"TTL\":\"10s\",\"LockDelay\":\"1000ms\",\"NodeChecks\":[]}"));
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        using var session = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var id = session.RootElement.GetProperty("ID").GetString();
        using var acquired = await http.PutAsync($"{consul.Url}/v1/kv/{_key}?acquire={id}", new StringContent(upstream));
        Assert.Equal("true", (await acquired.Content.ReadAsStringAsync()).Trim());

        var b = Node("node-b");
        Assert.Equal(new PrimaryInfo(hostname, url), await b.PrimaryInfoAsync(Soon));
        var held = await Assert.ThrowsAsync<LeaseHeldException>(() => b.AcquireAsync(Soon));
        Assert.Equal(new PrimaryInfo(hostname, url), held.Holder);
        using var destroyed = await http.PutAsync($"{consul.Url}/v1/session/destroy/{id}", null);
    }

    [Fact]
    public async Task AcquireExisting_DestroyedSession_Expired()
    {
        var a = Node("node-a");
        var b = Node("node-b");
        var grant = await a.AcquireAsync(Soon);
        await a.ReleaseAsync(grant, Soon);

        var ex = await Assert.ThrowsAsync<LeaseExpiredException>(() => b.AcquireExistingAsync(grant.Id, Soon));
        Assert.Contains(grant.Id, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UrlWithPath_IsAKeyPrefix_AndTheNodeIsRegistered()
    {
        var prefix = $"app-{Guid.NewGuid():N}";
        var a = Node("node-a", url: $"{consul.Url}/{prefix}/");
        Assert.Equal($"{prefix}/{_key}", a.Key);
        await a.AcquireAsync(Soon);
        await a.SetClusterIdAsync("LFSC0000000000000002", Soon);

        Assert.Contains("node-a", await RawAsync($"{prefix}/{_key}"), StringComparison.Ordinal);
        Assert.Equal("LFSC0000000000000002", await RawAsync($"{prefix}/{_key}/clusterid"));
        if (consul.StandIn is { } standIn)
        {
            Assert.Contains(standIn.RequestLog(), r => r.StartsWith("PUT /v1/session/create", StringComparison.Ordinal) && r.Contains($"\"Node\":\"{prefix}/litefs\"", StringComparison.Ordinal));
            Assert.Contains("PUT /v1/catalog/register", standIn.RequestLog());
        }
    }

    [Theory]
    [InlineData("a", "b", "a/b")]
    [InlineData("", "/litefs/primary", "litefs/primary")]
    [InlineData("/p/", "litefs//primary/", "p/litefs/primary")]
    [InlineData("p", "../x", "x")]
    public void JoinPath_LikeGosPathJoin_WithoutALeadingSlash(string a, string b, string joined)
    {
        Assert.Equal(joined, ConsulLeaser.JoinPath(a, b));
    }

    [Theory]
    [InlineData(10_000, "10s")]
    [InlineData(60_000, "1m0s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h0m0s")]
    [InlineData(1_500, "1.5s")]
    [InlineData(500, "500ms")]
    public void GoDurationText_AsGoPrintsIt(int ms, string text)
    {
        Assert.Equal(text, ConsulLeaser.GoDurationText(TimeSpan.FromMilliseconds(ms)));
    }
}
