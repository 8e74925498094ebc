using LiteFs.Core.Leases;

namespace LiteFs.Core.Tests.Leases;

/// <summary>
/// The lease state machine on a fake clock: acquisition, renewal at half the TTL, demotion before
/// the TTL when renewals fail or hang, failover between nodes without two writers, handoff,
/// requested demotion, the safe-promotion hook and the cluster-ID rules. Each node has a real
/// <see cref="NodeRole"/>; only the backend is in memory, with faults injected per operation.
/// </summary>
public sealed class LeaseMonitorTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private readonly LeaseCluster _cluster = new();

    /// <summary>The messages <paramref name="node"/> logged with <paramref name="eventId"/>.</summary>
    private static List<string> Logged(LeaseNode node, int eventId) =>
        [.. node.Log.Entries.Where(e => e.EventId == eventId).Select(e => e.Message)];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Assert.Null(_cluster.Overlap);
    }

    [Fact]
    public void Candidate_NobodyHoldsTheLease_AcquiresPromotesAndPublishesItself()
    {
        var a = _cluster.Add("a").StartPrimary();

        Assert.Equal(LeaseState.Primary, a.Monitor.State);
        Assert.Equal(a.Self, _cluster.Backend.Holder);
        Assert.Equal(a.Self, a.Monitor.Primary);
        Assert.True(a.Monitor.IsPrimary);
        Assert.Equal("http://a:20202", a.Monitor.PrimaryAdvertiseUrl);
        Assert.Equal("a", a.Monitor.PrimaryHostname);
        Assert.Contains(a.Self, a.Published);
        Assert.Single(Logged(a, 151));
    }

    [Fact]
    public void Primary_RenewsEveryHalfTtl_AndStaysPrimary()
    {
        var a = _cluster.Add("a").StartPrimary();

        _cluster.Advance(TimeSpan.FromMilliseconds(4900));
        Assert.Equal(0, a.Leaser.Calls("renew"));
        _cluster.AdvanceUntil(() => a.Leaser.Calls("renew") == 1, "first renewal", TimeSpan.FromMilliseconds(200));

        // Thirty more seconds: a renewal every five, never a lapse.
        for (var i = 2; i <= 7; i++)
        {
            _cluster.AdvanceUntil(() => a.Leaser.Calls("renew") == i, $"renewal {i}", TimeSpan.FromSeconds(5));
        }
        Assert.True(a.IsPrimary);
        Assert.Single(_cluster.Changes);
    }

    [Fact]
    public void RenewalsFail_NodeStopsWritingBeforeTheTtlCouldExpire_AndReleases()
    {
        var a = _cluster.Add("a").StartPrimary();
        var acquiredAt = _cluster.Time.GetUtcNow();
        var expires = _cluster.Backend.ExpiresAt;
        a.Leaser.Fail("renew");

        // Renewal at 5 s, retries at 6, 7 and 8 s; the one at 9 s would meet the deadline (TTL
        // minus a tenth), so the node gives up at 8 s.
        for (var i = 1; i <= 3; i++)
        {
            _cluster.AdvanceUntil(() => a.Leaser.Calls("renew") == i, $"attempt {i}", TimeSpan.FromSeconds(6));
            Assert.True(a.IsPrimary);
        }
        _cluster.AdvanceUntil(() => !a.IsPrimary, "demotion", TimeSpan.FromSeconds(2));

        var demotedAt = _cluster.Changes.Last().At;
        Assert.Equal(acquiredAt + TimeSpan.FromSeconds(8), demotedAt);
        Assert.True(demotedAt < expires, $"demoted at {demotedAt:O}, the lease expired at {expires:O}");
        Assert.Equal(4, a.Leaser.Calls("renew"));
        LeaseCluster.WaitFor(() => a.Leaser.Calls("release") == 1, "release");
        Assert.Null(_cluster.Backend.Holder);
        Assert.Equal(LeaseState.Following, a.Monitor.State);
        Assert.Equal(3, Logged(a, 154).Count);
    }

    [Fact]
    public void RenewalHangsIgnoringCancellation_DeadlineTimerStopsTheWritesAnyway()
    {
        var a = _cluster.Add("a").StartPrimary();
        var acquiredAt = _cluster.Time.GetUtcNow();
        var stuck = new TaskCompletionSource();
        a.Leaser.Inject("renew", _ => stuck.Task);

        _cluster.AdvanceUntil(() => a.Leaser.Calls("renew") == 1, "the renewal", TimeSpan.FromSeconds(6));
        _cluster.Advance(TimeSpan.FromSeconds(3.8));
        Assert.True(a.IsPrimary, "demoted before the deadline");
        _cluster.AdvanceUntil(() => !a.IsPrimary, "demotion by the deadline timer", TimeSpan.FromSeconds(0.3));
        Assert.Equal(acquiredAt + TimeSpan.FromSeconds(9), _cluster.Changes.Last().At);
        Assert.Single(Logged(a, 167));

        // The stuck call returns at last: the loop catches up and gives the lease up.
        stuck.SetException(new LeaseException("timed out"));
        LeaseCluster.WaitFor(() => a.Monitor.State == LeaseState.Following, "the loop to follow");
        LeaseCluster.WaitFor(() => a.Leaser.Calls("release") == 1, "release");
        Assert.False(a.IsPrimary);
    }

    [Fact]
    public void RenewalHangs_CancelledAtTheDeadline_Demotes()
    {
        var a = _cluster.Add("a").StartPrimary();
        var acquiredAt = _cluster.Time.GetUtcNow();
        a.Leaser.Hang("renew");

        _cluster.AdvanceUntil(() => !a.IsPrimary, "demotion", TimeSpan.FromSeconds(12));
        Assert.Equal(acquiredAt + TimeSpan.FromSeconds(9), _cluster.Changes.Last().At);
        LeaseCluster.WaitFor(() => a.Monitor.State == LeaseState.Following, "the loop to follow");
    }

    [Fact]
    public void LeaseExpiredOnRenewal_DemotesAtOnceWithoutRelease()
    {
        var a = _cluster.Add("a").StartPrimary();
        a.Leaser.Hang("watch");
        _cluster.Backend.Drop();

        _cluster.AdvanceUntil(() => !a.IsPrimary, "demotion", TimeSpan.FromSeconds(6));
        Assert.Equal(1, a.Leaser.Calls("renew"));
        Assert.Equal(0, a.Leaser.Calls("release"));
        Assert.Contains(Logged(a, 155), m => m.Contains("lease expired", StringComparison.Ordinal));
    }

    [Fact]
    public void AnotherNodeTakesTheKey_WatchNoticesAndPrimaryStepsDown()
    {
        var a = _cluster.Add("a").StartPrimary();
        var other = new PrimaryInfo("z", "http://z:20202");
        _cluster.Backend.Overwrite(other);

        _cluster.AdvanceUntil(() => !a.IsPrimary, "demotion", TimeSpan.FromSeconds(3));
        Assert.Equal(other, a.Monitor.Primary);
        Assert.Equal("http://z:20202", a.Monitor.PrimaryAdvertiseUrl);
        Assert.Equal(other, a.Published.Last());
    }

    [Fact]
    public void PrimaryPartitioned_OtherNodeTakesOverOnlyAfterTheOldOneStoppedWriting()
    {
        var a = _cluster.Add("a").StartPrimary();
        var b = _cluster.Add("b").Start();
        LeaseCluster.WaitFor(() => Equals(b.Monitor.Primary, a.Self), "b to follow a");
        Assert.Equal("http://a:20202", b.Monitor.PrimaryAdvertiseUrl);
        Assert.False(b.IsPrimary);

        foreach (var op in new[] { "renew", "release", "primary", "watch", "acquire" })
        {
            a.Leaser.Hang(op);
        }
        _cluster.AdvanceUntil(() => b.IsPrimary, "b to take over", TimeSpan.FromSeconds(15));

        var changes = _cluster.Changes.ToArray();
        var aDemoted = Array.FindIndex(changes, c => c.Node == "a" && !c.CanWrite);
        var bPromoted = Array.FindIndex(changes, c => c.Node == "b" && c.CanWrite);
        Assert.True(aDemoted >= 0 && aDemoted < bPromoted, string.Join(", ", changes));
        Assert.True(changes[bPromoted].At - changes[aDemoted].At >= TimeSpan.FromSeconds(1), "b promoted less than the margin after a stopped writing");
        Assert.Equal(b.Self, _cluster.Backend.Holder);
    }

    [Fact]
    public async Task PrimaryStops_DemotesBeforeReleasing_AndTheNextCandidateTakesOver()
    {
        var a = _cluster.Add("a").StartPrimary();
        var b = _cluster.Add("b").Start();
        LeaseCluster.WaitFor(() => Equals(b.Monitor.Primary, a.Self), "b to follow a");
        // b's refused attempt is more than the reconnect delay ago.
        _cluster.Advance(TimeSpan.FromSeconds(2));
        bool? writableAtRelease = null;
        a.Leaser.OnRelease = () => writableAtRelease = a.Role.CanWrite;

        await a.Monitor.StopAsync();
        Assert.False(writableAtRelease);
        Assert.Equal(LeaseState.Stopped, a.Monitor.State);
        Assert.Null(_cluster.Backend.Holder);

        var took = _cluster.AdvanceUntil(() => b.IsPrimary, "b to take over", TimeSpan.FromSeconds(2));
        Assert.True(took <= TimeSpan.FromMilliseconds(200), $"took {took}");
    }

    [Fact]
    public void NonCandidate_NeverAcquires_FollowsAndPublishesEveryChange()
    {
        var r = _cluster.Add("r", options: new LeaseMonitorOptions { Candidate = false }).Start();
        _cluster.Advance(TimeSpan.FromSeconds(3));
        Assert.Null(r.Monitor.Primary);

        var a = _cluster.Add("a").StartPrimary();
        _cluster.AdvanceUntil(() => Equals(r.Monitor.Primary, a.Self), "r to see a", TimeSpan.FromSeconds(3));
        a.Leaser.Fail("acquire");
        _cluster.Backend.Drop();
        _cluster.AdvanceUntil(() => r.Monitor.Primary is null, "r to see the key go", TimeSpan.FromSeconds(3));

        Assert.Equal(0, r.Leaser.Calls("acquire"));
        Assert.False(r.IsPrimary);
        Assert.Null(r.Monitor.PrimaryAdvertiseUrl);
        Assert.Equal([a.Self, null], r.Published);
    }

    [Fact]
    public void SafePromotionDeclines_NoAttemptUntilAllowed_ReasonLoggedOnce()
    {
        var allow = false;
        var asked = 0;
        var a = _cluster.Add("a", options: new LeaseMonitorOptions
        {
            MayPromote = _ =>
            {
                Interlocked.Increment(ref asked);
                return ValueTask.FromResult(Volatile.Read(ref allow) ? PromotionDecision.Allow : PromotionDecision.Decline("this node holds no databases yet"));
            },
        }).Start();

        _cluster.AdvanceUntil(() => Volatile.Read(ref asked) >= 4, "four questions", TimeSpan.FromSeconds(5));
        Assert.Equal(0, a.Leaser.Calls("acquire"));
        Assert.False(a.IsPrimary);
        Assert.Equal(["not taking the primary lease: this node holds no databases yet"], Logged(a, 158));

        Volatile.Write(ref allow, true);
        _cluster.AdvanceUntil(() => a.IsPrimary, "promotion once allowed", TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void ClusterIdMismatch_NeverAcquires()
    {
        _cluster.Backend.ClusterId = "LFSC0000000000000001";
        var a = _cluster.Add("a", clusterId: "LFSC0000000000000002").Start();

        _cluster.AdvanceUntil(() => a.Leaser.Calls("clusterid") >= 5, "five attempts", TimeSpan.FromSeconds(6));
        Assert.Equal(0, a.Leaser.Calls("acquire"));
        Assert.Single(Logged(a, 159));
        Assert.False(a.IsPrimary);
    }

    [Fact]
    public void NoLocalClusterId_WhileTheBackendHasOne_NeverAcquires()
    {
        _cluster.Backend.ClusterId = "LFSC0000000000000001";
        var a = _cluster.Add("a", clusterId: null).Start();

        _cluster.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(0, a.Leaser.Calls("acquire"));
        Assert.Contains("this node has no cluster id yet", Assert.Single(Logged(a, 158)), StringComparison.Ordinal);
        Assert.Empty(a.Adopted);
    }

    [Fact]
    public void NoLocalClusterId_WhileTheBackendHasOne_SafePromotionOff_TakesTheLeaseAndAdoptsTheBackendsId()
    {
        _cluster.Backend.ClusterId = "LFSC0000000000000001";
        var a = _cluster.Add("a", clusterId: null, options: new LeaseMonitorOptions { EmptyNodeJoinsFirst = false }).StartPrimary();

        Assert.Equal(["LFSC0000000000000001"], a.Adopted);
        Assert.Equal("LFSC0000000000000001", _cluster.Backend.ClusterId);
        Assert.Empty(Logged(a, 158));
        Assert.Equal(a.Self, _cluster.Backend.Holder);
    }

    [Fact]
    public void FirstPrimary_NewClusterId_StoredInBackendThenAdoptedLocally()
    {
        var a = _cluster.Add("a", clusterId: null).StartPrimary();
        var id = _cluster.Backend.ClusterId;
        Assert.NotNull(id);
        Assert.True(Store.IsValidClusterId(id), id);
        Assert.Equal([id], a.Adopted);
    }

    [Fact]
    public void FirstPrimary_WithLocalClusterId_StoresItAndAdoptsNothing()
    {
        var a = _cluster.Add("a", clusterId: "LFSC00000000000000AB").StartPrimary();
        Assert.Equal("LFSC00000000000000AB", _cluster.Backend.ClusterId);
        Assert.Empty(a.Adopted);
    }

    [Fact]
    public void StoringTheClusterIdFails_LeaseGivenBack_NotPromoted()
    {
        var a = _cluster.Add("a");
        a.Leaser.Fail("setclusterid");
        a.Start();

        LeaseCluster.WaitFor(() => a.Leaser.Calls("release") == 1, "the lease to be given back");
        Assert.False(a.IsPrimary);
        Assert.Null(_cluster.Backend.Holder);
        Assert.Empty(_cluster.Changes);
    }

    [Fact]
    public void AcquireFails_RetriedEveryReconnectDelay_ThenSucceeds()
    {
        var a = _cluster.Add("a");
        a.Leaser.Fail("acquire");
        a.Start();

        _cluster.AdvanceUntil(() => a.Leaser.Calls("acquire") == 4, "four attempts", TimeSpan.FromSeconds(3));
        Assert.False(a.IsPrimary);
        Assert.Equal(4, Logged(a, 156).Count);
        a.Leaser.Heal("acquire");
        _cluster.AdvanceUntil(() => a.IsPrimary, "promotion", TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void WatchFails_PrimaryKeepsRenewing()
    {
        var a = _cluster.Add("a");
        a.Leaser.Fail("watch");
        a.StartPrimary();

        _cluster.AdvanceUntil(() => a.Leaser.Calls("renew") == 3, "three renewals", TimeSpan.FromSeconds(16));
        Assert.True(a.IsPrimary);
        Assert.NotEmpty(Logged(a, 160));
    }

    [Fact]
    public async Task Handoff_TargetTakesTheSameLease_OldPrimaryStepsDownWithoutRelease()
    {
        var a = _cluster.Add("a").StartPrimary();
        var b = _cluster.Add("b").Start();
        LeaseCluster.WaitFor(() => Equals(b.Monitor.Primary, a.Self), "b to follow a");
        var leaseId = _cluster.Backend.LeaseId!;

        string? delivered = null;
        await a.Monitor.HandoffAsync((id, _) =>
        {
            delivered = id;
            return ValueTask.CompletedTask;
        });
        Assert.Equal(leaseId, delivered);
        Assert.False(a.IsPrimary);
        Assert.Equal(0, a.Leaser.Calls("release"));
        Assert.Equal(a.Self, _cluster.Backend.Holder);

        // Until the target takes the lease over, the backend still shows the old primary: it does
        // not try to take the lease back (the demote delay).
        var attempts = a.Leaser.Calls("acquire");
        _cluster.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(attempts, a.Leaser.Calls("acquire"));
        Assert.Null(a.Monitor.Primary);

        await b.Monitor.TakeOverAsync(delivered!);
        Assert.True(b.IsPrimary);
        Assert.Equal(b.Self, _cluster.Backend.Holder);
        Assert.Equal(leaseId, _cluster.Backend.LeaseId);
        _cluster.AdvanceUntil(() => Equals(a.Monitor.Primary, b.Self), "a to follow b", TimeSpan.FromSeconds(5));
        _cluster.Advance(TimeSpan.FromSeconds(12));
        Assert.Equal(attempts, a.Leaser.Calls("acquire"));
        Assert.True(b.IsPrimary);
    }

    [Fact]
    public async Task Handoff_NotDelivered_StaysPrimary()
    {
        var a = _cluster.Add("a").StartPrimary();
        var writesStopped = false;

        var ex = await Assert.ThrowsAsync<LeaseException>(() => a.Monitor.HandoffAsync((_, _) =>
        {
            writesStopped = !a.Role.CanWrite;
            throw new HandoffNotDeliveredException("target stream closed");
        }));
        Assert.Contains("handoff abandoned: target stream closed", ex.Message, StringComparison.Ordinal);
        Assert.True(writesStopped, "the writes stop before the lease id leaves");
        Assert.True(a.IsPrimary);
        Assert.True(a.Role.CanWrite);
        Assert.Equal(a.Self, _cluster.Backend.Holder);
        Assert.Single(Logged(a, 164));
    }

    [Fact]
    public async Task Handoff_FailsAfterTheIdMayHaveLeft_LeaseReleased_NotPrimary()
    {
        var a = _cluster.Add("a").StartPrimary();

        var ex = await Assert.ThrowsAsync<LeaseException>(() => a.Monitor.HandoffAsync((_, _) => throw new IOException("connection reset while sending HANDOFF")));
        Assert.Contains("handoff failed: connection reset", ex.Message, StringComparison.Ordinal);
        Assert.False(a.IsPrimary);
        Assert.Equal(1, a.Leaser.Calls("release"));
        Assert.Null(_cluster.Backend.Holder);
    }

    [Fact]
    public async Task Handoff_NotPrimary_Refused()
    {
        var a = _cluster.Add("a", options: new LeaseMonitorOptions { Candidate = false }).Start();
        var ex = await Assert.ThrowsAsync<LeaseException>(() => a.Monitor.HandoffAsync((_, _) => ValueTask.CompletedTask));
        Assert.Equal("node is not currently primary", ex.Message);
    }

    [Fact]
    public async Task TakeOver_LeaseGone_FailsAndStaysReplica()
    {
        var b = _cluster.Add("b", options: new LeaseMonitorOptions { Candidate = true, MayPromote = _ => ValueTask.FromResult(PromotionDecision.Decline("test")) }).Start();
        await Assert.ThrowsAsync<LeaseExpiredException>(() => b.Monitor.TakeOverAsync("lease-404"));
        Assert.False(b.IsPrimary);
    }

    [Fact]
    public async Task RequestPromotion_AsksThePrimaryForAHandoff_AndWaitsToBePrimary()
    {
        var a = _cluster.Add("a").StartPrimary();
        LeaseNode? b = null;
        b = _cluster.Add("b", options: new LeaseMonitorOptions
        {
            RequestHandoff = async (primary, ct) =>
            {
                Assert.Equal(a.Self, primary);
                string? id = null;
                await a.Monitor.HandoffAsync((x, _) =>
                {
                    id = x;
                    return ValueTask.CompletedTask;
                }, ct);
                _ = b!.Monitor.TakeOverAsync(id!, ct);
            },
        }).Start();
        LeaseCluster.WaitFor(() => Equals(b.Monitor.Primary, a.Self), "b to follow a");

        await b.Monitor.RequestPromotionAsync();
        Assert.True(b.IsPrimary);
        Assert.False(a.IsPrimary);
    }

    [Fact]
    public async Task RequestPromotion_NotCandidate_OrNoPrimary_Refused()
    {
        var r = _cluster.Add("r", options: new LeaseMonitorOptions { Candidate = false }).Start();
        var ex = await Assert.ThrowsAsync<LeaseException>(() => r.Monitor.RequestPromotionAsync());
        Assert.StartsWith("not eligible to become primary", ex.Message, StringComparison.Ordinal);

        var c = _cluster.Add("c", options: new LeaseMonitorOptions { MayPromote = _ => ValueTask.FromResult(PromotionDecision.Decline("test")) }).Start();
        ex = await Assert.ThrowsAsync<LeaseException>(() => c.Monitor.RequestPromotionAsync());
        Assert.Equal("no primary is currently available for handoff, cannot promote", ex.Message);
    }

    [Fact]
    public async Task Demote_ReleasesAndWaitsTheDemoteDelayBeforeTryingAgain()
    {
        var a = _cluster.Add("a").StartPrimary();

        await a.Monitor.DemoteAsync();
        Assert.False(a.IsPrimary);
        Assert.Null(_cluster.Backend.Holder);
        var attempts = a.Leaser.Calls("acquire");

        _cluster.Advance(TimeSpan.FromSeconds(9.5));
        Assert.Equal(attempts, a.Leaser.Calls("acquire"));
        _cluster.AdvanceUntil(() => a.IsPrimary, "promotion after the demote delay", TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task StaticLease_Candidate_PrimaryForeverWithoutRenewals()
    {
        var role = new NodeRole(Role.Replica);
        var lease = new StaticLease(true, "p", "http://p:20202");
        var monitor = new LeaseMonitor(lease, new LeaseMonitorOptions(), _cluster.Time);
        try
        {
            monitor.Start(role);
            LeaseCluster.WaitFor(() => role.IsPrimary, "static candidate to be primary");
            _cluster.Advance(TimeSpan.FromHours(1), TimeSpan.FromMinutes(1));
            Assert.True(role.CanWrite);
            Assert.Equal(LeaseState.Primary, monitor.State);
        }
        finally
        {
            await monitor.DisposeAsync();
        }
    }

    [Fact]
    public async Task StaticLease_Replica_FollowsTheConfiguredPrimary()
    {
        var role = new NodeRole(Role.Replica);
        var monitor = new LeaseMonitor(new StaticLease(false, "p", "http://p:20202"), new LeaseMonitorOptions { Candidate = false }, _cluster.Time);
        try
        {
            monitor.Start(role);
            LeaseCluster.WaitFor(() => monitor.Primary is not null, "the configured primary");
            Assert.Equal("http://p:20202", monitor.PrimaryAdvertiseUrl);
            Assert.False(role.IsPrimary);
        }
        finally
        {
            await monitor.DisposeAsync();
        }
    }

    [Fact]
    public void Start_RoleAlreadyPrimary_Refused()
    {
        var a = _cluster.Add("a");
        Assert.Throws<InvalidOperationException>(() => a.Monitor.Start(new NodeRole(Role.Primary)));
    }
}
