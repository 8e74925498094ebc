using LiteFs.Core.Locking;
using LiteFs.Ltx;
using LiteFs.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace LiteFs.Core.Tests;

/// <summary>
/// The HALT lock's state on the primary (granted to a replica: holds off local SQLite
/// transactions, idempotent retries, release by ID, expiry on the store's clock) and on a
/// replica (the record that makes the database writable there).
/// </summary>
public sealed class HaltLockTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDir _temp = new("litefs-halt");
    private const ulong Holder = 0xABCD;
    private readonly FakeTimeProvider _time = new();

    public void Dispose() => _temp.Dispose();

    private Store NewStore(bool primary)
    {
        var dir = _temp.Combine(primary ? "primary" : "replica");
        var ltx = Path.Combine(dir, "dbs", "db", "ltx");
        Directory.CreateDirectory(ltx);
        const string scenario = "delete-1024";
        var name = LtxFileName.Format(new TxId(1), new TxId(1));
        File.Copy(Path.Combine(RepoPaths.Golden, scenario, "ltx", name), Path.Combine(ltx, name));
        File.Copy(Path.Combine(RepoPaths.Golden, scenario, "states", "txid-1.database"), Path.Combine(dir, "dbs", "db", "database"));
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
        var store = new Store(new StoreOptions
        {
            DataDir = dir,
            Lease = new StaticLease(primary, "primary", "http://127.0.0.1:1"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        }, time: _time);
        store.Open();
        return store;
    }

    [Fact]
    public void Grant_HoldsOffLocalSqliteUntilReleased()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        var info = db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);

        Assert.Equal(7, info.Id);
        Assert.Equal(db.Pos, info.Pos);
        Assert.Equal(_time.GetUtcNow() + HaltLock.Ttl, info.Expires);
        Assert.Equal(info, db.Halt.Granted);
        Assert.True(db.Halt.IsHeldBy(7, Holder));
        Assert.False(db.Halt.IsHeldBy(7, Holder + 1));
        Assert.False(db.Halt.IsHeldBy(8, Holder));
        // A local SQLite connection cannot begin a read or a write while it is held.
        const ulong sqlite = 42;
        Assert.NotEqual(LockResult.Ok, db.Locks.TryLock([db.Locks.Shared], sqlite, LockRequest.Read));

        Assert.False(db.Halt.Release(8)); // another ID: nothing happens
        Assert.NotNull(db.Halt.Granted);
        Assert.True(db.Halt.Release(7));
        Assert.Null(db.Halt.Granted);
        Assert.Equal(LockResult.Ok, db.Locks.TryLock([db.Locks.Shared], sqlite, LockRequest.Read));
    }

    [Fact]
    public void Grant_SameIdAgain_ReturnsTheGrantedLockAtOnce()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        var first = db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));

        var again = db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);

        Assert.Same(first, again);
    }

    [Fact]
    public async Task Grant_AnotherIdHeld_WaitsThenTimesOutOnTheStoreClock()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);

        var second = Task.Factory.StartNew(() => db.Halt.Grant(9, Holder, settle: null, CancellationToken.None),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Thread.Sleep(200);
        _time.Advance(HaltLock.AcquireTimeout - TimeSpan.FromSeconds(1));
        Thread.Sleep(200);
        Assert.False(second.IsCompleted, "the second grant ended before the clock reached the timeout");

        for (var i = 0; i < 100 && !second.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            Thread.Sleep(10);
        }
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => second.WaitAsync(Patience));
        Assert.Equal("context deadline exceeded", ex.Message);
        Assert.Equal(7, db.Halt.Granted!.Id);
    }

    [Fact]
    public async Task Grant_AnotherIdHeld_SucceedsOnceTheFirstIsReleased()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);
        var second = Task.Factory.StartNew(() => db.Halt.Grant(9, Holder, settle: null, CancellationToken.None),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Thread.Sleep(100);

        Assert.True(db.Halt.Release(7));

        var info = await second.WaitAsync(Patience);
        Assert.Equal(9, info.Id);
        Assert.Equal(9, db.Halt.Granted!.Id);
    }

    [Fact]
    public void ExpireDue_ReleasesOnlyOnceTheTtlPassed()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        db.Halt.Grant(7, Holder, settle: null, CancellationToken.None);

        _time.Advance(HaltLock.Ttl - TimeSpan.FromSeconds(1));
        store.ExpireHaltLocks();
        Assert.NotNull(db.Halt.Granted);

        _time.Advance(TimeSpan.FromSeconds(1));
        store.ExpireHaltLocks();
        Assert.Null(db.Halt.Granted);
        const ulong sqlite = 42;
        Assert.Equal(LockResult.Ok, db.Locks.TryLock([db.Locks.Shared], sqlite, LockRequest.Read));
    }

    [Fact]
    public void Grant_ZeroId_Refused()
    {
        using var store = NewStore(primary: true);
        var db = store.Find("db")!;
        var ex = Assert.Throws<ArgumentException>(() => db.Halt.Grant(0, Holder, settle: null, CancellationToken.None));
        Assert.StartsWith("halt lock id required", ex.Message, StringComparison.Ordinal);
        Assert.Null(db.Halt.Granted);
    }

    [Fact]
    public void RemoteRecord_MakesTheReplicaWritableUntilCleared()
    {
        using var store = NewStore(primary: false);
        var db = store.Find("db")!;
        Assert.False(store.IsWritable(db));

        db.Halt.RecordRemote(new HaltLockInfo(5, db.Pos, null));
        Assert.True(store.IsWritable(db));

        Assert.Null(db.Halt.ClearRemote(6)); // another ID: kept
        Assert.True(store.IsWritable(db));
        Assert.Equal(5, db.Halt.ClearRemote(5)!.Id);
        Assert.False(store.IsWritable(db));
    }
}
