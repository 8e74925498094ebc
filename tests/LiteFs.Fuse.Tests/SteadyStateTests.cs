using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>Runs alone: it measures allocations process-wide.</summary>
[CollectionDefinition(nameof(SteadyStateTests), DisableParallelization = true)]
public sealed class SteadyStateCollection;

[Collection(nameof(SteadyStateTests))]
public sealed class SteadyStateTests
{
    [Fact]
    public void ReadsWritesLocks_OnAnOpenFile_AllocateNothingPerRequest()
    {
        using var mount = new LoopbackMount();
        var path = mount.Path("steady");
        File.WriteAllBytes(path, new byte[8192]);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.None);
        var buffer = new byte[4096];

        var failures = 0;
        // No xUnit asserts inside the loop: they allocate.
        void Round()
        {
            // DirectIo is off, so reads may hit the page cache; writes and locks always reach the file system.
            RandomAccess.Write(file, buffer, 0);
            _ = RandomAccess.Read(file, buffer, 4096);
            failures += Native.OfdLock(file, Native.FOfdSetLk, Native.FWrLck, 0, 1, out _) == 0 ? 0 : 1;
            failures += Native.OfdLock(file, Native.FOfdSetLk, Native.FUnLck, 0, 1, out _) == 0 ? 0 : 1;
        }

        for (var i = 0; i < 200; i++)
        {
            Round(); // Warm up: JIT, tiering, lists grown to size.
        }
        const int rounds = 1000;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < rounds; i++)
        {
            Round();
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(0, failures);

        // At least 3000 requests (write, setlk, setlk) crossed the reader threads; a single allocation
        // per request would be >= 24 bytes each. Allow a little for runtime background work.
        Assert.True(allocated < 16 * 1024, $"{allocated} bytes allocated over {rounds} rounds");
    }
}
