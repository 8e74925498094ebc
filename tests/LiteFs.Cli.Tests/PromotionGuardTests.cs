using LiteFs.Cli.Config;
using LiteFs.Cli.Tests.Config;
using LiteFs.Core.Leases;
using Microsoft.Extensions.Time.Testing;

namespace LiteFs.Cli.Tests;

/// <summary>The safe-promotion check and the identity a node writes into a lease that moves.</summary>
public class PromotionGuardTests
{
    private static readonly PrimaryInfo Self = new("b", "http://b:20202");
    private static readonly PrimaryInfo Other = new("a", "http://a:20202");
    private static readonly PrimaryInfo Third = new("c", "http://c:20202");
    private readonly FakeTimeProvider _time = new();

    private static async Task<PromotionDecision> Decide(PromotionGuard guard) => await guard.MayPromoteAsync(CancellationToken.None);

    private static async Task<bool> Allowed(PromotionGuard guard) => (await Decide(guard)).Allowed;

    [Fact]
    public async Task NeverSawAPrimary_Allowed()
    {
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task CaughtUpWithTheLastPrimary_AllowedAtOnce()
    {
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(Other);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(null);
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task CaughtUpWithAnEarlierPrimaryOnly_DeclinedForTheGracePeriod()
    {
        // Followed a, then c held the lease and left before this node's stream to it sent READY.
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(Other);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(Third);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(null);

        var decision = await Decide(guard);
        Assert.False(decision.Allowed);
        Assert.Equal("this node never caught up with the last primary, c (http://c:20202), in its last term; leaving the lease to a node that did for 10s", decision.Reason);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task CaughtUpInAnEarlierTermOfTheSameNode_DeclinedForTheGracePeriod()
    {
        // a, nobody, c, a again: what a committed in its second term never reached this node.
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(Other);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(null);
        guard.OnPrimaryChanged(Third);
        guard.OnPrimaryChanged(Other);
        guard.OnPrimaryChanged(null);
        Assert.False(await Allowed(guard));

        // The same without a change between: a's READY in its new term counts.
        guard.OnPrimaryChanged(Other);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(null);
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task WasPrimaryItselfAfterTheLastOtherPrimary_Allowed()
    {
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(Other);
        guard.OnPrimaryChanged(Self);
        guard.OnPrimaryChanged(null);
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task NotCaughtUp_DeclinedForTheGracePeriod_ThenAllowed()
    {
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(Other);
        guard.OnPrimaryChanged(null);

        var decision = await Decide(guard);
        Assert.False(decision.Allowed);
        Assert.Equal("this node never caught up with the last primary, a (http://a:20202), in its last term; leaving the lease to a node that did for 10s", decision.Reason);
        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(await Allowed(guard));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task StreamFromTheLastPrimaryStillOpen_DeclinedUntilItEnds_OrTheGracePeriodPassed()
    {
        string? streaming = "a";
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time, () => streaming);
        guard.OnPrimaryChanged(Other);
        guard.OnCaughtUp(Other.AdvertiseUrl);
        guard.OnPrimaryChanged(null);

        var decision = await Decide(guard);
        Assert.False(decision.Allowed);
        Assert.Equal("still receiving the last transactions of the last primary, a; its stream ends first", decision.Reason);
        streaming = null;
        Assert.True(await Allowed(guard));

        streaming = "a";
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public async Task OwnLeaseSeen_DoesNotCountAsAnotherPrimary()
    {
        var guard = new PromotionGuard(Self, TimeSpan.FromSeconds(10), _time);
        guard.OnPrimaryChanged(new PrimaryInfo("b", "http://b:20202"));
        guard.OnPrimaryChanged(null);
        Assert.True(await Allowed(guard));
    }

    [Fact]
    public void OwnIdentity_DefaultsToHostNameAndHttpPort_ForALeaseThatMoves()
    {
        var config = ConfigParserTests.Parse("http:\n  addr: \":20999\"\nlease:\n  type: etcd\n");
        var lease = LeaseSetup.WithOwnIdentity(config).Lease;
        Assert.Equal(Environment.MachineName, lease.Hostname);
        Assert.Equal($"http://{Environment.MachineName}:20999", lease.AdvertiseUrl);

        var given = ConfigParserTests.Parse("lease:\n  type: consul\n  hostname: h\n  advertise-url: http://h:1\n");
        Assert.Equal(given.Lease, LeaseSetup.WithOwnIdentity(given).Lease);

        // A static lease names the primary: nothing is filled in.
        var replica = ConfigParserTests.Parse("lease:\n  type: static\n  candidate: false\n");
        Assert.Same(replica, LeaseSetup.WithOwnIdentity(replica));
    }
}
