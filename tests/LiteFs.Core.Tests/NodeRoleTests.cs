namespace LiteFs.Core.Tests;

public sealed class NodeRoleTests
{
    [Fact]
    public void Primary_CanWrite_UntilDemoted_ThenItsTokenFires()
    {
        var role = new NodeRole(Role.Primary);
        var token = role.WriteToken;
        Assert.True(role.CanWrite);
        Assert.False(token.IsCancellationRequested);

        role.Demote("lease lost");

        Assert.False(role.IsPrimary);
        Assert.False(role.CanWrite);
        Assert.True(token.IsCancellationRequested);
        Assert.True(role.WriteToken.IsCancellationRequested);
    }

    [Fact]
    public void Replica_HasNoWriteTerm_UntilPromoted_WhichStartsANewOne()
    {
        var role = new NodeRole(Role.Replica);
        var before = role.WriteToken;
        Assert.True(before.IsCancellationRequested);

        role.Promote("lease acquired");

        Assert.True(role.CanWrite);
        var term = role.WriteToken;
        Assert.False(term.IsCancellationRequested);
        role.Demote("handoff");
        role.Promote("lease acquired again");
        Assert.True(term.IsCancellationRequested);
        Assert.False(role.WriteToken.IsCancellationRequested);
    }

    [Fact]
    public void Failure_EndsWriting_ForGood_AndOnlyTheFirstCounts()
    {
        var role = new NodeRole(Role.Primary);
        var token = role.WriteToken;
        var first = new FatalDatabaseException("disk gone");

        Assert.True(role.Fail(first));
        Assert.False(role.Fail(new FatalDatabaseException("a consequence")));
        role.Promote("lease acquired");

        Assert.True(token.IsCancellationRequested);
        Assert.True(role.IsPrimary);
        Assert.False(role.CanWrite);
        Assert.Same(first, role.Failure);
    }

    [Fact]
    public void Stop_EndsWriting_AndPromotionAfterItDoesNotWrite()
    {
        var role = new NodeRole(Role.Primary);
        role.Stop();
        role.Promote("late lease");
        Assert.False(role.CanWrite);
        Assert.True(role.WriteToken.IsCancellationRequested);
    }

    [Fact]
    public void Changed_IsRaisedOutsideTheLock_AndSubscribersSeeTheNewRole()
    {
        var role = new NodeRole(Role.Primary);
        var seen = new List<(RoleChange Change, bool CanWriteNow)>();
        // A subscriber reading the role again would deadlock if it ran under the role's lock on
        // another thread; run it on one to prove it does not.
        role.Changed += change => seen.Add((change, Task.Run(() => role.CanWrite).Wait(TimeSpan.FromSeconds(5)) && role.CanWrite));

        role.Demote("handoff");
        role.Demote("again"); // no change, no event
        role.Promote("back");

        Assert.Equal([(Role.Replica, false), (Role.Primary, true)], seen.Select(s => (s.Change.Role, s.Change.CanWrite)));
        Assert.Equal([false, true], seen.Select(s => s.CanWriteNow));
    }

    [Fact]
    public void Store_RefusesWrites_OnceAFatalErrorStoppedIt()
    {
        using var dir = new LiteFs.TestKit.TempDir("litefs-role");
        FatalDatabaseException? reported = null;
        using var store = new Store(new StoreOptions
        {
            DataDir = dir.Path,
            Lease = new StaticLease(true, "localhost", "http://127.0.0.1:1"),
            OnFatal = ex => reported = ex,
        });
        store.Open();
        var db = store.GetOrCreate("x.db");
        Assert.True(store.IsWritable(db));

        ((IDbHost)store).Fatal(new FatalDatabaseException("cannot record"));

        Assert.NotNull(reported);
        Assert.False(store.IsWritable(db));
        Assert.True(store.IsPrimary);
        Assert.Throws<ReadOnlyReplicaException>(() => db.Create(DbFileKind.Journal));
    }
}
