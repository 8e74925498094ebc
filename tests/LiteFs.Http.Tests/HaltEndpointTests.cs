using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using LiteFs.Core;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Http.Tests;

/// <summary>
/// The primary's side of write forwarding over HTTP: <c>POST /halt</c> grants the HALT lock,
/// <c>DELETE /halt</c> releases it, and <c>POST /tx</c> applies a forwarded transaction only
/// from the lock's holder and only once the whole file checked out against the database.
/// </summary>
public sealed class HaltEndpointTests
{
    private const string Replica = "1234567890ABCDEF";
    private const ulong ReplicaId = 0x1234567890ABCDEF;
    private const string Db = "wal4096.db";

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(NodeFixture node, HttpMethod method, string path, string? litefsId = Replica, byte[]? body = null)
    {
        using var http = H2c.NewClient();
        using var request = H2c.Request(method, node.Url + path);
        if (litefsId is not null)
        {
            request.Headers.Add("Litefs-Id", litefsId);
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
        }
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Halt_GrantedRetriedThenReleased()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var db = node.Store.Find(Db)!;
        var before = DateTimeOffset.UtcNow;

        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=4311247871287193413");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.EndsWith("}\n", body, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(body))
        {
            var root = json.RootElement;
            Assert.Equal(4311247871287193413, root.GetProperty("id").GetInt64());
            Assert.Equal(db.Pos.TxId.ToString(), root.GetProperty("pos").GetProperty("TXID").GetString());
            Assert.Equal(db.Pos.PostApplyChecksum.ToString(), root.GetProperty("pos").GetProperty("PostApplyChecksum").GetString());
            var expires = DateTimeOffset.Parse(root.GetProperty("expires").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(expires, before + HaltLock.Ttl, DateTimeOffset.UtcNow + HaltLock.Ttl);
        }
        Assert.True(db.Halt.IsHeldBy(4311247871287193413, ReplicaId));

        // A retry of the same acquisition gets the same lock back at once.
        var (again, againBody) = await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=4311247871287193413");
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(body, againBody);

        // Another ID releases nothing; the lock's own ID does.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Delete, $"/halt?name={Db}&id=5")).Status);
        Assert.NotNull(db.Halt.Granted);
        var (released, releasedBody) = await SendAsync(node, HttpMethod.Delete, $"/halt?name={Db}&id=4311247871287193413");
        Assert.Equal(HttpStatusCode.OK, released);
        Assert.Equal("", releasedBody);
        Assert.Null(db.Halt.Granted);
    }

    [Fact]
    public async Task Halt_OnReplica_Refused()
    {
        await using var node = await NodeFixture.StartAsync(primary: false);
        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("acquire halt lock: node is not currently primary\n", body);
    }

    [Fact]
    public async Task Tx_FromTheLockHolder_AppliedAndStreamedOn()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var db = node.Store.Find(Db)!;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7")).Status);
        var pos = db.Pos;
        var (ltx, expected) = ForwardedTransaction(db, pos, userVersion: 42, postApply: null);
        var announced = new List<Pos>();
        node.Store.Transaction += (_, p) =>
        {
            lock (announced)
            {
                announced.Add(p);
            }
        };

        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: ltx);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("", body);
        var after = new Pos(pos.TxId.Next, SqliteFiles.ChecksumOf(expected));
        Assert.Equal(after, db.Pos);
        Assert.Equal(expected, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.True(File.Exists(Path.Combine(db.LtxDir, LtxFileName.Format(after.TxId, after.TxId))));
        lock (announced)
        {
            Assert.Contains(after, announced);
        }
        // The lock stays until released: the holder may forward more.
        Assert.NotNull(db.Halt.Granted);

        Assert.Equal(1, node.Store.Forwarding.Count(ForwardingEvent.HaltGranted));
        Assert.Equal(1, node.Store.Forwarding.Count(ForwardingEvent.ForwardedTransactionApplied));
        var (_, metrics) = await SendAsync(node, HttpMethod.Get, "/metrics", litefsId: null);
        Assert.Contains("# TYPE litefs_halt_lock_grants_total counter\nlitefs_halt_lock_grants_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nlitefs_forwarded_tx_applied_total 1\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_HaltGrantedAndReleased_Announced()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        using var http = H2c.NewClient(HttpVersion.Version11);
        using var request = H2c.Request(HttpMethod.Get, node.Url + "/events", HttpVersion.Version11);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var events = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("{\"type\":\"init\"", await events.ReadLineAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7")).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Delete, $"/halt?name={Db}&id=7")).Status);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.Equal($"{{\"type\":\"halt\",\"db\":\"{Db}\",\"data\":{{\"event\":\"granted\",\"lockID\":7}}}}", await events.ReadLineAsync(timeout.Token));
        Assert.Equal($"{{\"type\":\"halt\",\"db\":\"{Db}\",\"data\":{{\"event\":\"released\",\"lockID\":7}}}}", await events.ReadLineAsync(timeout.Token));
    }

    [Fact]
    public async Task Tx_PagesThatDoNotGiveThePostApplyChecksum_RefusedAndNothingChanges()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var db = node.Store.Find(Db)!;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7")).Status);
        var pos = db.Pos;
        var database = File.ReadAllBytes(db.FilePath(DbFileKind.Database));
        var files = Directory.GetFiles(db.LtxDir).Order(StringComparer.Ordinal).ToArray();
        // A well-formed file (right header and position, valid file checksum) whose trailer claims
        // the checksum the database has now, which the changed page cannot give.
        var (ltx, _) = ForwardedTransaction(db, pos, userVersion: 42, postApply: pos.PostApplyChecksum);

        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: ltx);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("post-apply checksum mismatch", body, StringComparison.Ordinal);
        Assert.Equal(pos, db.Pos);
        Assert.Equal(database, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.Equal(files, Directory.GetFiles(db.LtxDir).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task Tx_FromAnotherNodeThanTheHolder_Refused()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        var db = node.Store.Find(Db)!;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7")).Status);
        var pos = db.Pos;
        var (ltx, _) = ForwardedTransaction(db, pos, userVersion: 42, postApply: null);

        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", litefsId: "00000000000000AA", body: ltx);

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal($"no halt lock is held on \"{Db}\" by this node under lock id \"7\"\n", body);
        Assert.Equal(pos, db.Pos);
    }

    [Fact]
    public async Task Tx_OutOfSequenceOrCut_RefusedWithUpstreamMessages()
    {
        await using var node = await NodeFixture.StartAsync(goldenDb: true);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(node, HttpMethod.Post, $"/halt?name={Db}&id=7")).Status);
        // TXID 3's file applies after TXID 2; the primary is at 6.
        var ltx = File.ReadAllBytes(NodeFixture.Golden("wal-4096", "ltx", "0000000000000003-0000000000000003.ltx"));

        var (status, body) = await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: ltx);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("write ltx file: non-sequential header minimum txid 0000000000000003, expecting 0000000000000007\n", body);
        Assert.Equal("write ltx file: decode ltx header: EOF\n", (await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: [])).Body);
        Assert.Equal("write ltx file: decode ltx header: unexpected EOF\n", (await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: ltx[..50])).Body);
        var garbage = System.Text.Encoding.ASCII.GetBytes("NOT-AN-LTX-FILE".PadRight(100));
        Assert.Equal("write ltx file: decode ltx header: invalid LTX file\n", (await SendAsync(node, HttpMethod.Post, $"/tx?name={Db}&lockID=7", body: garbage)).Body);
    }

    /// <summary>
    /// An LTX file that sets the database's user_version (bytes 60..63 of page 1), as the replica
    /// holding the lock would forward it; with <paramref name="postApply"/> its trailer claims that
    /// checksum instead of the true one.
    /// </summary>
    private static (byte[] Ltx, byte[] Database) ForwardedTransaction(Db db, Pos pos, uint userVersion, Checksum? postApply)
    {
        var database = File.ReadAllBytes(db.FilePath(DbFileKind.Database));
        var pageSize = db.PageSize;
        Assert.Equal(0, database.Length % pageSize);
        BinaryPrimitives.WriteUInt32BigEndian(database.AsSpan(60), userVersion);
        using var output = new MemoryStream();
        using (var encoder = new LtxEncoder(output))
        {
            encoder.WriteHeader(new LtxHeader
            {
                PageSize = pageSize,
                Commit = (uint)(database.Length / pageSize),
                MinTxId = pos.TxId.Next,
                MaxTxId = pos.TxId.Next,
                Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                PreApplyChecksum = pos.PostApplyChecksum,
                NodeId = ReplicaId,
            });
            encoder.WritePage(1, database.AsSpan(0, pageSize));
            encoder.Finish(postApply ?? SqliteFiles.ChecksumOf(database));
        }
        return (output.ToArray(), database);
    }
}
