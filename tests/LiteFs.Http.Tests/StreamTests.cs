using System.Buffers.Binary;
using System.Net;
using LiteFs.Core;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Http.Tests;

/// <summary><c>POST /stream</c> end to end: Kestrel, h2c, NodeClient, PrimaryStreamer and the frame reader.</summary>
public class StreamTests
{
    private static readonly Pos GoldenTxid2 = Pos.Parse("0000000000000002/8db8bfd1c7afbe1f");
    private static readonly Pos GoldenTxid6 = Pos.Parse("0000000000000006/ff47ac2266e33f3f");

    /// <summary>Reads frames (LTX payloads into memory) until <paramref name="count"/> frames or the end; a watchdog aborts a silent stream.</summary>
    private static List<(StreamFrame Frame, byte[]? Payload)> ReadFrames(PrimaryStream stream, int count, TimeSpan? limit = null)
    {
        using var watchdog = new Timer(_ => stream.Dispose(), null, limit ?? TimeSpan.FromSeconds(15), Timeout.InfiniteTimeSpan);
        var reader = new StreamFrameReader(stream.Body);
        var frames = new List<(StreamFrame, byte[]?)>();
        while (frames.Count < count && reader.Read() is { } frame)
        {
            byte[]? payload = null;
            if (frame.Type == StreamFrameType.Ltx)
            {
                using var buffer = new MemoryStream();
                reader.Payload!.CopyTo(buffer);
                payload = buffer.ToArray();
            }
            frames.Add((frame, payload));
        }
        return frames;
    }

    private static Task<PrimaryStream> OpenAsync(NodeFixture node, IReadOnlyDictionary<string, Pos> positions, params string[] filter) =>
        node.Client.OpenStreamAsync(node.Url, 0x1234567890ABCDEF, positions, filter, CancellationToken.None);

    [Fact]
    public async Task Stream_EmptyPositionMap_SnapshotThenReadyThenHeartbeats()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var stream = await OpenAsync(node, new Dictionary<string, Pos>());
        Assert.Equal(NodeFixture.GoldenClusterId, stream.ClusterId);
        var frames = await Task.Run(() => ReadFrames(stream, 4));
        Assert.Equal([StreamFrameType.Ltx, StreamFrameType.Ready, StreamFrameType.Heartbeat, StreamFrameType.Heartbeat], frames.Select(f => f.Frame.Type));
        Assert.Equal("wal4096.db", frames[0].Frame.Name);
        var (header, trailer, pages) = LtxDecoder.Verify(new MemoryStream(frames[0].Payload!));
        Assert.Equal((1ul, 6ul, 2), (header.MinTxId.Value, header.MaxTxId.Value, pages));
        Assert.Equal(GoldenTxid6.PostApplyChecksum, trailer.PostApplyChecksum);
        Assert.Equal(node.Store.NodeId, header.NodeId);
        var gap = frames[3].Frame.Timestamp - frames[2].Frame.Timestamp;
        Assert.InRange(gap, 800, 3000);
    }

    [Fact]
    public async Task Stream_FromTxid2_SameBytesAsUpstreamUntilHeartbeat()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var dir = NodeFixture.Golden("stream", "b-from-txid2-incremental");
        using var http = H2c.NewClient();
        using var request = H2c.Request(HttpMethod.Post, node.Url + "/stream");
        request.Headers.Add("Litefs-Id", "1234567890ABCDEF");
        request.Content = new ByteArrayContent(File.ReadAllBytes(Path.Combine(dir, "request-body.bin")));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Content.Headers.ContentType);
        Assert.Equal(NodeFixture.GoldenClusterId, response.Headers.GetValues("Litefs-Cluster-Id").Single());
        Assert.Equal(node.Store.NodeIdText, response.Headers.GetValues("Litefs-Id").Single());
        var golden = File.ReadAllBytes(Path.Combine(dir, "response-body.bin"));
        // Four LTX + HWM frames, READY at 0x41a, then HEARTBEAT frames with the time.
        var expected = golden.AsSpan(0, 0x41e + 4).ToArray();
        var body = await response.Content.ReadAsStreamAsync();
        var actual = new byte[expected.Length];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await body.ReadExactlyAsync(actual, timeout.Token);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task Stream_FromTxid2_ThroughClient_IncrementalFilesAndHwm()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var stream = await OpenAsync(node, new Dictionary<string, Pos> { ["wal4096.db"] = GoldenTxid2 });
        var frames = await Task.Run(() => ReadFrames(stream, 10));
        var dir = NodeFixture.Golden("stream", "b-from-txid2-incremental");
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(StreamFrameType.Ltx, frames[2 * i].Frame.Type);
            var payload = Directory.GetFiles(dir, $"payload-0{i}-*.ltx").Single();
            Assert.Equal(File.ReadAllBytes(payload), frames[2 * i].Payload);
            Assert.Equal(new StreamFrame(StreamFrameType.Hwm, "wal4096.db", TxId.Zero), frames[(2 * i) + 1].Frame);
        }
        Assert.Equal(StreamFrameType.Ready, frames[8].Frame.Type);
        Assert.Equal(StreamFrameType.Heartbeat, frames[9].Frame.Type);
    }

    [Fact]
    public async Task Stream_EmptyStore_ReadyThenHeartbeat()
    {
        await using var node = await NodeFixture.StartAsync(clusterId: null);
        using var stream = await OpenAsync(node, new Dictionary<string, Pos>());
        Assert.Equal(node.Store.ClusterId, stream.ClusterId);
        var frames = await Task.Run(() => ReadFrames(stream, 2));
        Assert.Equal([StreamFrameType.Ready, StreamFrameType.Heartbeat], frames.Select(f => f.Frame.Type));
        Assert.InRange(frames[1].Frame.Timestamp, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Stream_FilterOtherDb_NothingButReadyAndHeartbeats()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var stream = await OpenAsync(node, new Dictionary<string, Pos>(), "other.db");
        var frames = await Task.Run(() => ReadFrames(stream, 3));
        Assert.Equal([StreamFrameType.Ready, StreamFrameType.Heartbeat, StreamFrameType.Heartbeat], frames.Select(f => f.Frame.Type));
    }

    [Fact]
    public async Task Stream_ServerStops_EndFrameThenCleanEnd()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var stream = await OpenAsync(node, new Dictionary<string, Pos> { ["wal4096.db"] = GoldenTxid6 });
        var first = await Task.Run(() => ReadFrames(stream, 2));
        Assert.Equal([StreamFrameType.Ready, StreamFrameType.Heartbeat], first.Select(f => f.Frame.Type));
        var stopping = node.Server.DisposeAsync().AsTask();
        var rest = await Task.Run(() => ReadFrames(stream, 100));
        await stopping;
        Assert.Equal(StreamFrameType.End, rest[^1].Frame.Type);
        Assert.All(rest.SkipLast(1), f => Assert.Equal(StreamFrameType.Heartbeat, f.Frame.Type));
    }

    [Fact]
    public async Task Stream_Open_CountedInMetricsAndHandoffSeesTheReplica()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var http = H2c.NewClient();
        Assert.Equal(0, node.Server.StreamCount);
        var stream = await OpenAsync(node, new Dictionary<string, Pos> { ["wal4096.db"] = GoldenTxid6 });
        try
        {
            await Task.Run(() => ReadFrames(stream, 2));
            Assert.Equal(1, node.Server.StreamCount);
            Assert.True(node.Server.IsReplicaConnected(0x1234567890ABCDEF));
            var metrics = await http.GetStringAsync(node.Url + "/metrics");
            Assert.Contains("\nlitefs_http_stream_count 1\n", metrics, StringComparison.Ordinal);
            Assert.Contains("\nlitefs_subscriber_count 1\n", metrics, StringComparison.Ordinal);
            using var handoff = await http.PostAsync(node.Url + "/handoff?nodeID=1234567890abcdef", null);
            Assert.Equal(HttpStatusCode.InternalServerError, handoff.StatusCode);
            Assert.Equal("cannot handoff: static lease does not support handoff\n", await handoff.Content.ReadAsStringAsync());
        }
        finally
        {
            stream.Dispose();
        }
        // The replica went away: the handler notices and stops.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (node.Server.StreamCount != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(0, node.Server.StreamCount);
        Assert.False(node.Server.IsReplicaConnected(0x1234567890ABCDEF));
        Assert.Equal(0, node.Store.SubscriberCount);
    }

    [Fact]
    public async Task Stream_OnReplica_ClientGetsInvalidResponse503()
    {
        await using var node = await NodeFixture.StartAsync(primary: false);
        var ex = await Assert.ThrowsAsync<NodeApiException>(() => OpenAsync(node, new Dictionary<string, Pos>()));
        Assert.Equal("invalid response: code=503", ex.Message);
        Assert.Equal(503, ex.StatusCode);
    }

    [Fact]
    public async Task ReplicaClient_OverNodeClient_ReplicatesTheGoldenDatabase()
    {
        await using var primary = await NodeFixture.StartAsync(goldenDb: true);
        using var dir = new TempDir("litefs-http-replica");
        using var replicaStore = new Store(new StoreOptions
        {
            DataDir = dir.Path,
            Lease = new StaticLease(false, "primary", primary.Url),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        replicaStore.Open();
        using var client = new NodeClient();
        using (var replica = new ReplicaClient(replicaStore, client))
        {
            replica.Start();
            await replicaStore.Ready.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(GoldenTxid6, replicaStore.Find("wal4096.db")?.Pos);
            Assert.Equal(NodeFixture.GoldenClusterId, replicaStore.ClusterId);
            Assert.Equal(
                File.ReadAllBytes(NodeFixture.Golden("wal-4096", "database")),
                File.ReadAllBytes(replicaStore.Find("wal4096.db")!.FilePath(DbFileKind.Database)));
        }
    }

    [Fact]
    public async Task Export_GoldenDatabase_IsTheDatabaseFile()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var http = H2c.NewClient();
        using var response = await http.GetAsync(node.Url + "/export?name=wal4096.db");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(File.ReadAllBytes(NodeFixture.Golden("wal-4096", "database")), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public void HeartbeatFrameBytes_AreBigEndianMilliseconds()
    {
        // Guard for the comparison above: the golden READY is at 0x41a.
        var golden = File.ReadAllBytes(NodeFixture.Golden("stream", "b-from-txid2-incremental", "response-body.bin"));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(golden.AsSpan(0x41a)));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(golden.AsSpan(0x41e)));
    }
}
