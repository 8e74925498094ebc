using LiteFs.Fuse.Locking;

namespace LiteFs.Fuse.Tests;

public sealed class PosixLockSetTests
{
    private static FileLock Lock(ulong owner, ulong start, ulong end, LockType type) =>
        new() { Owner = owner, Start = start, End = end, Type = type, Pid = (uint)owner };

    [Theory]
    [InlineData(LockType.Read, LockType.Read, true)]
    [InlineData(LockType.Read, LockType.Write, false)]
    [InlineData(LockType.Write, LockType.Read, false)]
    [InlineData(LockType.Write, LockType.Write, false)]
    public void Overlapping_OtherOwner_ConflictsUnlessBothShared(LockType held, LockType wanted, bool granted)
    {
        var locks = new PosixLockSet();
        Assert.Equal(Errno.Ok, locks.TrySet(Lock(1, 0, 9, held)));
        Assert.Equal(granted ? Errno.Ok : Errno.EAGAIN, locks.TrySet(Lock(2, 5, 5, wanted)));
        Assert.Equal(Errno.Ok, locks.TrySet(Lock(2, 10, 20, LockType.Write)));
    }

    [Fact]
    public void SameOwner_NeverConflicts_AndUnlockInTheMiddleSplits()
    {
        var locks = new PosixLockSet();
        Assert.Equal(Errno.Ok, locks.TrySet(Lock(1, 0, 99, LockType.Write)));
        Assert.Equal(Errno.Ok, locks.TrySet(Lock(1, 10, 19, LockType.Read)));
        Assert.Equal(3, locks.Count);
        Assert.Equal(Errno.Ok, locks.TrySet(Lock(1, 40, 59, LockType.Unlock)));

        Assert.Equal(LockType.Read, locks.Test(Lock(2, 15, 15, LockType.Write)).Type);
        Assert.Equal(LockType.Unlock, locks.Test(Lock(2, 50, 50, LockType.Write)).Type);
        var right = locks.Test(Lock(2, 70, FileLock.ToEnd, LockType.Read));
        Assert.Equal((60UL, 99UL, LockType.Write), (right.Start, right.End, right.Type));
    }

    [Fact]
    public void ReleaseOwner_DropsOnlyThatOwnersLocks()
    {
        var locks = new PosixLockSet();
        locks.TrySet(Lock(1, 0, 9, LockType.Read));
        locks.TrySet(Lock(2, 0, 9, LockType.Read));
        locks.ReleaseOwner(1);
        Assert.Equal(1, locks.Count);
        Assert.Equal(Errno.EAGAIN, locks.TrySet(Lock(3, 0, 0, LockType.Write)));
    }

    [Fact]
    public async Task Wait_IsGrantedOnRelease_OrEndsWithEintrOnCancel()
    {
        var locks = new PosixLockSet();
        locks.TrySet(Lock(1, 0, FileLock.ToEnd, LockType.Write));

        var granted = locks.SetAsync(Lock(2, 0, 0, LockType.Read), wait: true, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = locks.SetAsync(Lock(3, 0, 0, LockType.Write), wait: true, cancel.Token);
        Assert.False(granted.IsCompleted);
        Assert.False(cancelled.IsCompleted);

        await cancel.CancelAsync();
        Assert.Equal(Errno.EINTR, await cancelled);
        locks.TrySet(Lock(1, 0, FileLock.ToEnd, LockType.Unlock));
        Assert.Equal(Errno.Ok, await granted.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(LockType.Read, locks.Test(Lock(9, 0, 0, LockType.Write)).Type);
    }

    [Fact]
    public async Task NonBlockingSet_CompletesSynchronously()
    {
        var locks = new PosixLockSet();
        var first = locks.SetAsync(Lock(1, 0, 0, LockType.Write), wait: false, CancellationToken.None);
        var second = locks.SetAsync(Lock(2, 0, 0, LockType.Write), wait: false, CancellationToken.None);
        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal((Errno.Ok, Errno.EAGAIN), (await first, await second));
    }
}
