using System.Text;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// Replication over damage: a stored LTX file that no longer verifies is never sent (the primary
/// sends a snapshot instead), and a replica fed bytes it cannot parse says so, reconnects, and
/// reports itself unhealthy while it keeps failing.
/// </summary>
public sealed class DamagedStreamTests : IDisposable
{
    private const string ClusterId = "LFSCC4107E101BBC6363";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDir _temp = new("litefs-damage");
    private readonly LogRecorder _log = new();
    private readonly List<IDisposable> _owned = [];

    private static string Golden(params string[] parts) => Path.Combine([RepoPaths.Golden, .. parts]);

    private Store NewStore(string name, bool primary, Action<string>? seed = null)
    {
        var dir = _temp.Combine(name);
        Directory.CreateDirectory(dir);
        seed?.Invoke(dir);
        var store = new Store(new StoreOptions
        {
            DataDir = dir,
            Lease = new StaticLease(primary, "primary", "http://127.0.0.1:1"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        }, _log);
        store.Open();
        _owned.Add(store);
        return store;
    }

    /// <summary>The golden WAL database at TXID 6 with its six LTX files.</summary>
    private static void SeedWal4096(string dir)
    {
        var ltx = Path.Combine(dir, "dbs", "wal4096.db", "ltx");
        Directory.CreateDirectory(ltx);
        foreach (var file in Directory.GetFiles(Golden("wal-4096", "ltx"), "*.ltx"))
        {
            File.Copy(file, Path.Combine(ltx, Path.GetFileName(file)));
        }
        File.Copy(Golden("wal-4096", "database"), Path.Combine(dir, "dbs", "wal4096.db", "database"));
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
        File.WriteAllText(Path.Combine(dir, "clusterid"), ClusterId + "\n");
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

    [Fact]
    public void PrimaryStream_StoredFileCorrupt_SendsSnapshotInsteadAndLogsIt()
    {
        var primary = NewStore("primary", primary: true, SeedWal4096);
        var damaged = Path.Combine(primary.Find("wal4096.db")!.LtxDir, "0000000000000004-0000000000000004.ltx");
        var bytes = File.ReadAllBytes(damaged);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(damaged, bytes);

        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        new PrimaryStreamer(primary, TimeSpan.Zero, _log).Run(1, new Dictionary<string, Pos> { ["wal4096.db"] = Pos.Parse("0000000000000002/8db8bfd1c7afbe1f") }, null, output, cts.Token);
        output.Position = 0;
        var reader = new StreamFrameReader(output);
        var files = new List<LtxHeader>();
        StreamFrame frame;
        while ((frame = reader.Read()!.Value).Type != StreamFrameType.Ready)
        {
            if (frame.Type == StreamFrameType.Ltx)
            {
                using var file = new MemoryStream();
                reader.Payload!.CopyTo(file);
                file.Position = 0;
                files.Add(LtxDecoder.Verify(file).Header);
            }
        }
        Assert.Equal([(3ul, 3ul), (1ul, 6ul)], files.Select(h => (h.MinTxId.Value, h.MaxTxId.Value)));
        _log.AssertLogged("stored LTX file 0000000000000004-0000000000000004.ltx of wal4096.db is damaged");
        Assert.True(File.Exists(damaged), "the primary keeps the file for the operator to look at");
    }

    [Fact]
    public void Replica_StreamOfText_LogsItReconnectsAndIsUnhealthyUntilItCatchesUp()
    {
        var replica = NewStore("replica", primary: false);
        var primary = new SwitchablePrimary(Encoding.UTF8.GetBytes("invalid ltx file: file checksum mismatch\n"));
        using var client = new ReplicaClient(replica, primary, new ReplicaOptions { ReconnectDelay = TimeSpan.FromMilliseconds(10) }, _log);
        client.Start();
        WaitFor(() => !replica.IsHealthy, "the replica to report itself unhealthy");
        Assert.True(primary.Requests >= ReplicaClient.UnhealthyAfter, $"{primary.Requests} attempts");
        Assert.False(replica.IsReady);
        Assert.Contains("invalid ltx file: file checksum mismatch", replica.ReplicationFailure, StringComparison.Ordinal);
        _log.AssertLogged("not a replication frame");
        _log.AssertLogged("\"invalid ltx file: file checksum mismatch\"");
        _log.AssertLogged("unhealthy");

        primary.Body = File.ReadAllBytes(Golden("stream", "a-empty-posmap-snapshot", "response-body.bin"));
        WaitFor(() => replica.IsHealthy && replica.IsReady, "the replica to catch up");
        Assert.Null(replica.ReplicationFailure);
        _log.AssertLogged("healthy again");
    }

    public void Dispose()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }
        _temp.Dispose();
    }

    /// <summary>A primary whose every stream is the same bytes, which a test may change.</summary>
    private sealed class SwitchablePrimary(byte[] body) : IPrimaryClient
    {
        private int _requests;
        private volatile byte[] _body = body;

        public byte[] Body
        {
            get => _body;
            set => _body = value;
        }

        public int Requests => Volatile.Read(ref _requests);

        public Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            return Task.FromResult(new PrimaryStream(ClusterId, new MemoryStream(Body, writable: false)));
        }
    }
}
