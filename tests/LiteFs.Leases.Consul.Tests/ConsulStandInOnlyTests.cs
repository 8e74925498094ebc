using System.Diagnostics;
using LiteFs.Core.Leases;
using LiteFs.TestKit;

namespace LiteFs.Leases.Consul.Tests;

/// <summary>
/// What needs a Consul configured otherwise than the shared one: ACL tokens (a dev agent has no
/// ACLs), Consul's default minimum TTL, and an unreachable Consul. Each test has a stand-in of
/// its own, or none.
/// </summary>
public sealed class ConsulStandInOnlyTests
{
    private static CancellationToken Soon => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    private static ConsulLeaser Leaser(string url, TimeSpan? ttl = null, string? token = null) => new(new ConsulLeaserOptions
    {
        Url = url,
        Key = "litefs/primary",
        Ttl = ttl ?? TimeSpan.FromSeconds(10),
        Hostname = "node-a",
        AdvertiseUrl = "http://node-a:20202",
        Token = token,
        RequestTimeout = TimeSpan.FromSeconds(3),
    });

    [Fact]
    public async Task AclToken_FromTheUrlsPassword_SentWithEveryRequest()
    {
        await using var standIn = await ConsulStandIn.StartAsync(requiredToken: "s3cr3t");
        var withToken = standIn.Url.Replace("http://", "http://:s3cr3t@", StringComparison.Ordinal);
        await using (var leaser = Leaser(withToken))
        {
            var grant = await leaser.AcquireAsync(Soon);
            await leaser.RenewAsync(grant, Soon);
            await leaser.ReleaseAsync(grant, Soon);
        }
        await using (var fromOptions = Leaser(standIn.Url, token: "s3cr3t"))
        {
            Assert.Null(await fromOptions.PrimaryInfoAsync(Soon));
        }
        await using var without = Leaser(standIn.Url);
        var ex = await Assert.ThrowsAsync<LeaseException>(() => without.AcquireAsync(Soon));
        Assert.Contains("403", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Permission denied", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TtlBelowConsulsMinimum_ConsulsErrorReported()
    {
        await using var standIn = await ConsulStandIn.StartAsync();
        await using var leaser = Leaser(standIn.Url, ttl: TimeSpan.FromSeconds(5));
        var ex = await Assert.ThrowsAsync<LeaseException>(() => leaser.AcquireAsync(Soon));
        Assert.Contains("v1/session/create", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid Session TTL '5s'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TtlZero_UpstreamsDefaultOfTenSeconds()
    {
        await using var standIn = await ConsulStandIn.StartAsync();
        await using var leaser = Leaser(standIn.Url, ttl: TimeSpan.Zero);
        var grant = await leaser.AcquireAsync(Soon);
        Assert.Equal(TimeSpan.FromSeconds(10), grant.Ttl);
        Assert.Contains(standIn.RequestLog(), r => r.Contains("\"TTL\":\"10s\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unreachable_ClearErrorQuickly()
    {
        var url = $"http://127.0.0.1:{FreePort.Next()}";
        await using var leaser = Leaser(url);
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<LeaseException>(() => leaser.AcquireAsync(Soon));
        Assert.StartsWith($"cannot connect to consul at {url}: ", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<LeaseException>(() => leaser.RenewAsync(new LeaseGrant("x", TimeSpan.FromSeconds(10)), Soon));
        await Assert.ThrowsAsync<LeaseException>(() => leaser.PrimaryInfoAsync(Soon));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }
}
