using LiteFs.Core.Locking;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using LiteFs.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace LiteFs.Core.Tests;

/// <summary>
/// Timeouts and paces measured on the store's clock: a fake clock the test advances decides
/// them, so the tests wait for no real timeout.
/// </summary>
public sealed class ClockTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDir _temp = new("litefs-clock");
    private readonly FakeTimeProvider _time = new();

    public void Dispose() => _temp.Dispose();

    private Store NewStore(bool primary, Action<string>? seed = null)
    {
        var dir = _temp.Combine(primary ? "primary" : "replica");
        Directory.CreateDirectory(dir);
        seed?.Invoke(dir);
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
    public void ReplicaClient_SilentPrimary_StreamDroppedAfterStallTimeoutThenReconnectsAfterDelay()
    {
        using var store = NewStore(primary: false);
        var primary = new SilentPrimary(_time);
        var options = new ReplicaOptions { StallTimeout = TimeSpan.FromSeconds(10), ReconnectDelay = TimeSpan.FromSeconds(3) };
        using (var client = new ReplicaClient(store, primary, options))
        {
            client.Start();
            var first = primary.Next(Patience);
            Assert.NotNull(first);
            WaitFor(() => client.IsConnected, "the replica to connect");

            // Silence while the fake clock stays under the stall timeout: the stream stays open.
            _time.Advance(TimeSpan.FromSeconds(9));
            Thread.Sleep(200);
            Assert.Null(first.DroppedAt);

            // A second past it, the watchdog drops the stream.
            for (var i = 0; i < 30 && first.DroppedAt is null; i++)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                Thread.Sleep(20);
            }
            Assert.NotNull(first.DroppedAt);
            Assert.InRange(first.DroppedAt.Value - first.OpenedAt, options.StallTimeout, TimeSpan.FromSeconds(30));

            // No reconnection while the fake clock is short of the reconnect delay.
            Assert.Null(primary.Next(TimeSpan.FromMilliseconds(300)));
            SilentStream? second = null;
            for (var i = 0; i < 100 && second is null; i++)
            {
                _time.Advance(TimeSpan.FromMilliseconds(100));
                second = primary.Next(TimeSpan.FromMilliseconds(20));
            }
            Assert.NotNull(second);
            Assert.True(primary.LastOpenedAt - first.DroppedAt.Value >= options.ReconnectDelay,
                $"reconnected {primary.LastOpenedAt - first.DroppedAt.Value} after the drop, before the reconnect delay");
        }
    }

    [Fact]
    public async Task AcquireWriteLock_ReaderHoldsLock_TimesOutWhenTheClockPassesTheTimeout()
    {
        var scenario = "delete-1024";
        using var store = NewStore(primary: true, dir =>
        {
            var ltx = Path.Combine(dir, "dbs", "db", "ltx");
            Directory.CreateDirectory(ltx);
            var name = LtxFileName.Format(new TxId(1), new TxId(1));
            File.Copy(Path.Combine(RepoPaths.Golden, scenario, "ltx", name), Path.Combine(ltx, name));
            File.Copy(Path.Combine(RepoPaths.Golden, scenario, "states", "txid-1.database"), Path.Combine(dir, "dbs", "db", "database"));
            foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
            {
                File.SetAttributes(file, FileAttributes.Normal);
            }
        });
        var db = store.Find("db")!;
        // A SQLite reader: SHARED on the database, READ0 in the WAL index.
        const ulong reader = 42;
        Assert.Equal(LockResult.Ok, db.Locks.TryLock([db.Locks.Shared, db.Locks.Read[0]], reader, LockRequest.Read));

        using var started = new ManualResetEventSlim();
        var acquire = Task.Factory.StartNew(() =>
        {
            started.Set();
            using var set = db.AcquireWriteLock(CancellationToken.None, TimeSpan.FromMinutes(1));
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(started.Wait(Patience));
        Thread.Sleep(200);

        _time.Advance(TimeSpan.FromSeconds(59));
        Thread.Sleep(200);
        Assert.False(acquire.IsCompleted, "the wait ended before the fake clock reached the timeout");

        // Seconds of real time, not the minute the timeout says: the fake clock decides.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Same(acquire, await Task.WhenAny(acquire, Task.Delay(TimeSpan.FromSeconds(5))));
        await Assert.ThrowsAsync<TimeoutException>(() => acquire);

        // The waiter let go of what it had taken: the reader's locks are its own again.
        db.Locks.ReleaseAll([.. db.Locks.AllDatabaseLocks, .. db.Locks.AllShmLocks], reader);
        using (db.AcquireWriteLock(CancellationToken.None, TimeSpan.FromSeconds(5)))
        {
        }
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            Thread.Sleep(10);
        }
    }

    /// <summary>A primary that accepts every stream and never sends a byte.</summary>
    private sealed class SilentPrimary(FakeTimeProvider time) : IPrimaryClient
    {
        private readonly BlockingQueue _opened = new();

        public DateTimeOffset LastOpenedAt { get; private set; }

        public Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken)
        {
            LastOpenedAt = time.GetUtcNow();
            var body = new SilentStream(time);
            var stream = new PrimaryStream(null, body);
            _opened.Add(body);
            return Task.FromResult(stream);
        }

        /// <summary>The next stream opened, or null if none is within <paramref name="wait"/> (real time).</summary>
        public SilentStream? Next(TimeSpan wait) => _opened.Take(wait);

        private sealed class BlockingQueue
        {
            private readonly System.Collections.Concurrent.BlockingCollection<SilentStream> _items = [];

            public void Add(SilentStream item) => _items.Add(item);

            public SilentStream? Take(TimeSpan wait) => _items.TryTake(out var item, wait) ? item : null;
        }
    }

    /// <summary>A response body that blocks reads until it is disposed, recording when (on the fake clock).</summary>
    private sealed class SilentStream(FakeTimeProvider time) : Stream
    {
        private readonly TaskCompletionSource<int> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DateTimeOffset OpenedAt { get; } = time.GetUtcNow();

        public DateTimeOffset? DroppedAt { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _closed.Task.GetAwaiter().GetResult();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(_closed.Task.WaitAsync(cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _closed.Task.WaitAsync(cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (DroppedAt is null)
            {
                DroppedAt = time.GetUtcNow();
            }
            _closed.TrySetResult(0);
            base.Dispose(disposing);
        }
    }
}
