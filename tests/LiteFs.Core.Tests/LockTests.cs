using LiteFs.Core.Locking;

namespace LiteFs.Core.Tests;

public class LockTests
{
    [Fact]
    public void SharedThenExclusive_OnlyForSoleHolder()
    {
        var l = new RwLock("x");
        Assert.True(l.TryShared(1));
        Assert.True(l.TryShared(2));
        Assert.False(l.TryExclusive(1));
        l.Unlock(2);
        Assert.True(l.TryExclusive(1));
        Assert.False(l.TryShared(2));
        Assert.True(l.TryShared(1)); // downgrade
        Assert.True(l.TryShared(2));
    }

    [Fact]
    public void WaitingForExclusive_HoldsOffNewSharedHolders_UntilTakenOrReleased()
    {
        var l = new RwLock("READ0");
        Assert.True(l.TryShared(1));
        Assert.False(l.TryExclusiveOrWait(9));
        // A new reader is held off; the one holding it may ask again; another waiter does not take over.
        Assert.False(l.TryShared(2));
        Assert.True(l.TryShared(1));
        Assert.False(l.TryExclusiveOrWait(8));
        l.Unlock(1);
        Assert.True(l.TryExclusiveOrWait(9));
        l.Unlock(9);
        Assert.True(l.TryShared(2));

        // Nor does anyone take it exclusively while it is waited for (SQLite moves a read mark,
        // and takes the WAL write lock, exclusively): it goes to the waiter once free.
        Assert.False(l.TryExclusiveOrWait(9));
        l.Unlock(2);
        Assert.False(l.TryExclusive(5));
        Assert.True(l.TryExclusiveOrWait(9));
        l.Unlock(9);
        Assert.True(l.TryExclusive(5));
        l.Unlock(5);
        Assert.True(l.TryShared(2));

        // A waiter that gives up (unlocks without getting it) lets readers in again.
        Assert.False(l.TryExclusiveOrWait(9));
        Assert.False(l.TryShared(3));
        l.Unlock(9);
        Assert.True(l.TryShared(3));
    }

    [Fact]
    public void DatabaseRange_MapsSqliteLockBytes()
    {
        var locks = new DbLocks();
        Assert.Equal(["PENDING"], locks.DatabaseLocksIn(DbLocks.PendingByte, DbLocks.PendingByte).Select(l => l.Name));
        Assert.Equal(["RESERVED"], locks.DatabaseLocksIn(DbLocks.ReservedByte, DbLocks.ReservedByte).Select(l => l.Name));
        Assert.Equal(["SHARED"], locks.DatabaseLocksIn(DbLocks.SharedFirst, DbLocks.SharedFirst + DbLocks.SharedSize - 1).Select(l => l.Name));
        Assert.Equal(["PENDING", "RESERVED", "SHARED"], locks.DatabaseLocksIn(0, long.MaxValue).Select(l => l.Name));
        Assert.Empty(locks.DatabaseLocksIn(0, 100));
    }

    [Fact]
    public void ShmRange_MapsWalLocks()
    {
        var locks = new DbLocks();
        Assert.Equal(["WRITE", "CKPT", "RECOVER", "READ0", "READ1", "READ2", "READ3", "READ4", "DMS"], locks.ShmLocksIn(120, 128).Select(l => l.Name));
        Assert.Equal(["READ2"], locks.ShmLocksIn(125, 125).Select(l => l.Name));
    }

    [Fact]
    public void ExclusiveCheckpoint_RefusedWhileAnotherHoldsWrite()
    {
        var locks = new DbLocks();
        Assert.Equal(LockResult.Ok, locks.TryLock([locks.Write], 1, LockRequest.Write));
        Assert.Equal(LockResult.WouldBlock, locks.TryLock([locks.Ckpt], 2, LockRequest.Write));
        Assert.Equal(LockResult.Ok, locks.TryLock([locks.Ckpt], 2, LockRequest.Read));
        locks.TryLock([locks.Ckpt], 2, LockRequest.Unlock);
        Assert.Equal(LockResult.Ok, locks.TryLock([locks.Ckpt], 1, LockRequest.Write));
    }

    [Fact]
    public void Query_ReportsConflictType()
    {
        var locks = new DbLocks();
        locks.TryLock([locks.Shared], 1, LockRequest.Read);
        Assert.Null(locks.Query([locks.Shared], 2, LockRequest.Read));
        Assert.Equal(LockRequest.Read, locks.Query([locks.Shared], 2, LockRequest.Write));
        locks.TryLock([locks.Shared], 1, LockRequest.Write);
        Assert.Equal(LockRequest.Write, locks.Query([locks.Shared], 2, LockRequest.Read));
    }
}
