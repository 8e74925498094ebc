using System.Net;
using LiteFs.Ltx;
using LiteFs.TestKit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A real replica process (<c>litefs mount</c>) following a stand-in primary that answers
/// <c>POST /stream</c> over h2c with the bytes upstream LiteFS v0.5.14 sent in the recorded
/// scenarios; the replica must end at the recorded position with the recorded database.
/// </summary>
[Collection("cluster")]
public sealed class GoldenStreamTests : IAsyncLifetime
{
    private const string ClusterId = "LFSCC4107E101BBC6363";
    private readonly TempDir _temp = new("litefs-cluster-golden");
    private readonly List<byte[]> _requests = [];
    private WebApplication? _server;
    private int _port;
    private byte[] _first = [];

    private static string Golden(params string[] parts) => Path.Combine([RepoPaths.Golden, .. parts]);

    public async Task InitializeAsync()
    {
        _port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Http2 only: prior-knowledge h2c, what a replica speaks.
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, _port, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapPost("/stream", ServeAsync);
        await app.StartAsync();
        _server = app;
    }

    /// <summary>
    /// The first request gets the recorded body; later ones (the replica reconnects when a body
    /// ends) get READY and a heartbeat every second, as a primary with nothing new sends.
    /// </summary>
    private async Task ServeAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        bool first;
        lock (_requests)
        {
            _requests.Add(body.ToArray());
            first = _requests.Count == 1;
        }
        context.Response.Headers["Litefs-Id"] = "2DF4B2F0BD358A5D";
        context.Response.Headers["Litefs-Cluster-Id"] = ClusterId;
        await context.Response.StartAsync();
        if (first)
        {
            await context.Response.Body.WriteAsync(_first);
            await context.Response.Body.FlushAsync();
            return;
        }
        await context.Response.Body.WriteAsync(new byte[] { 0, 0, 0, 2 });
        try
        {
            while (!context.RequestAborted.IsCancellationRequested)
            {
                var heartbeat = new byte[12];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(heartbeat, 7);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(heartbeat.AsSpan(4), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                await context.Response.Body.WriteAsync(heartbeat, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(1000, context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private ClusterNode Replica(Action<string>? seedDataDir = null)
    {
        var node = new ClusterNode("replica", _temp.Combine("replica"), isPrimary: false, FreePort.Next(), $"http://127.0.0.1:{_port}", new NodeSettings());
        seedDataDir?.Invoke(node.DataDir);
        return node;
    }

    private static void WaitFor(Func<bool> condition, ClusterNode node, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}\n{node.Describe()}");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void Replica_UpstreamSnapshotStream_ByteIdenticalAtRecordedPosition()
    {
        _first = File.ReadAllBytes(Golden("stream", "a-empty-posmap-snapshot", "response-body.bin"));
        using var replica = Replica();
        replica.Start();
        WaitFor(() => replica.ReadPos("wal4096.db") == "0000000000000006/ff47ac2266e33f3f", replica, "the recorded position");
        Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "database")), File.ReadAllBytes(replica.DbFile("wal4096.db")));
        Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "database")), File.ReadAllBytes(replica.Path("wal4096.db")));
        Assert.Equal(ClusterId + "\n", File.ReadAllText(Path.Combine(replica.DataDir, "clusterid")));
        Assert.Equal([0, 0, 0, 0], _requests[0]);
        // Reconnected after the recorded body ended, and attached: .primary names the primary.
        WaitFor(() => _requests.Count >= 2 && File.Exists(replica.Path(".primary")), replica, "the replica to attach again");
        Assert.Equal("ok\n", Sql.Cli(replica.Path("wal4096.db"), "PRAGMA integrity_check;"));
        Assert.Equal(0, replica.Stop());
    }

    [Fact]
    public void Replica_UpstreamIncrementalStream_AppliesRecordedFiles()
    {
        _first = File.ReadAllBytes(Golden("stream", "b-from-txid2-incremental", "response-body.bin"));
        using var replica = Replica(dataDir =>
        {
            // A replica at TXID 2: upstream's first two files and the database as of them.
            var ltx = Path.Combine(dataDir, "dbs", "wal4096.db", "ltx");
            Directory.CreateDirectory(ltx);
            using var temp = new TempDir();
            var database = Path.Combine(dataDir, "dbs", "wal4096.db", "database");
            using (var handle = File.OpenHandle(database, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                var applier = new LtxApplier(handle, database);
                for (ulong txid = 1; txid <= 2; txid++)
                {
                    var name = LtxFileName.Format(new TxId(txid), new TxId(txid));
                    File.Copy(Golden("wal-4096", "ltx", name), Path.Combine(ltx, name));
                    File.SetAttributes(Path.Combine(ltx, name), FileAttributes.Normal);
                    using var file = File.OpenRead(Path.Combine(ltx, name));
                    applier.Apply(file, name);
                }
            }
            File.WriteAllText(Path.Combine(dataDir, "clusterid"), ClusterId + "\n");
        });
        replica.Start();
        WaitFor(() => replica.ReadPos("wal4096.db") == "0000000000000006/ff47ac2266e33f3f", replica, "the recorded position");
        Assert.Equal(File.ReadAllBytes(Golden("stream", "b-from-txid2-incremental", "request-body.bin")), _requests[0]);
        Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "database")), File.ReadAllBytes(replica.DbFile("wal4096.db")));
        for (ulong txid = 3; txid <= 6; txid++)
        {
            var name = LtxFileName.Format(new TxId(txid), new TxId(txid));
            Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "ltx", name)), File.ReadAllBytes(Path.Combine(replica.LtxDir("wal4096.db"), name)));
        }
        Assert.Equal(0, replica.Stop());
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }
        _temp.Dispose();
    }
}
