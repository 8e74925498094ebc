using LiteFs.TestKit;
using System.Diagnostics;
using LiteFs.Core.Leases;

namespace LiteFs.Leases.Etcd.Tests;

/// <summary>The etcd lease against an etcd of its own per test: with authentication, with TLS, and stopped.</summary>
public sealed class EtcdServerModeTests
{
    private static CancellationToken Soon => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    private static EtcdLeaser Leaser(EtcdServer server, string? user = null, string? password = null, string? caFile = null, params string[] endpoints) =>
        new(new EtcdLeaserOptions
        {
            Endpoints = endpoints.Length > 0 ? endpoints : [server.Url],
            Key = "/litefs/app/primary",
            Ttl = TimeSpan.FromSeconds(2),
            Hostname = "node-a",
            AdvertiseUrl = "http://node-a:20202",
            Username = user,
            Password = password,
            CaFile = caFile,
            RequestTimeout = TimeSpan.FromSeconds(3),
        });

    [Fact]
    public async Task Auth_UserAndPassword_EveryOperationWorks()
    {
        using var server = EtcdServer.Start(auth: true);
        await using var leaser = Leaser(server, EtcdServer.RootUser, EtcdServer.RootPassword);

        var grant = await leaser.AcquireAsync(Soon);
        await leaser.RenewAsync(grant, Soon);
        Assert.Equal(leaser.Self, await leaser.PrimaryInfoAsync(Soon));
        await leaser.SetClusterIdAsync("LFSC00000000000000AA", Soon);
        Assert.Equal("LFSC00000000000000AA", await leaser.ClusterIdAsync(Soon));
        await using (var enumerator = leaser.WatchAsync(Soon).GetAsyncEnumerator())
        {
            Assert.True(await enumerator.MoveNextAsync());
            Assert.Equal(leaser.Self, enumerator.Current);
        }
        await leaser.ReleaseAsync(grant, Soon);
        Assert.Null(await leaser.PrimaryInfoAsync(Soon));
        Assert.Equal("LFSC00000000000000AA", server.Run("--user", $"{EtcdServer.RootUser}:{EtcdServer.RootPassword}", "get", "/litefs/app/primary/clusterid", "--print-value-only").Trim());
    }

    [Fact]
    public async Task Auth_WrongPassword_ClearError()
    {
        using var server = EtcdServer.Start(auth: true);
        await using var leaser = Leaser(server, EtcdServer.RootUser, "wrong");

        var ex = await Assert.ThrowsAsync<LeaseException>(() => leaser.AcquireAsync(Soon));
        Assert.Contains("cannot authenticate to etcd", ex.Message, StringComparison.Ordinal);
        Assert.Contains("as \"root\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("authentication failed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("lease.etcd.password", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_NoCredentials_EtcdsErrorReported()
    {
        using var server = EtcdServer.Start(auth: true);
        await using var leaser = Leaser(server);

        var ex = await Assert.ThrowsAnyAsync<LeaseException>(() => leaser.PrimaryInfoAsync(Soon));
        Assert.Contains("user name is empty", ex.Message, StringComparison.Ordinal);
        Assert.Contains(server.Url, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_WithTheCaFile_Works_WithoutIt_Refused()
    {
        using var server = EtcdServer.Start(tls: true);
        await using (var trusted = Leaser(server, caFile: server.CaFile))
        {
            var grant = await trusted.AcquireAsync(Soon);
            Assert.Equal(trusted.Self, await trusted.PrimaryInfoAsync(Soon));
            await trusted.ReleaseAsync(grant, Soon);
        }
        await using var untrusted = Leaser(server);
        var ex = await Assert.ThrowsAsync<LeaseException>(() => untrusted.PrimaryInfoAsync(Soon));
        Assert.Contains("cannot reach etcd", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CaFileMissing_ClearError()
    {
        using var server = EtcdServer.Start();
        var ex = Assert.Throws<LeaseException>(() => Leaser(server, caFile: "/nonexistent/ca.pem"));
        Assert.StartsWith("cannot read lease.etcd.ca-file /nonexistent/ca.pem", ex.Message, StringComparison.Ordinal);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Stopped_EveryOperationFailsQuicklyWithAClearError()
    {
        using var server = EtcdServer.Start();
        await using var leaser = Leaser(server);
        var grant = await leaser.AcquireAsync(Soon);
        server.Stop();

        var watch = Stopwatch.StartNew();
        var renew = await Assert.ThrowsAsync<LeaseException>(() => leaser.RenewAsync(grant, Soon));
        Assert.IsNotType<LeaseExpiredException>(renew);
        Assert.StartsWith($"cannot reach etcd at {server.Url}: ", renew.Message, StringComparison.Ordinal);
        Assert.Contains("Connection refused", renew.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<LeaseException>(() => leaser.AcquireAsync(Soon));
        await Assert.ThrowsAsync<LeaseException>(() => leaser.PrimaryInfoAsync(Soon));
        await Assert.ThrowsAsync<LeaseException>(async () =>
        {
            await foreach (var _ in leaser.WatchAsync(Soon))
            {
            }
        });
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }
}
