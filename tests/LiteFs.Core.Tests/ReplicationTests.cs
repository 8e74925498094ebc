using LiteFs.Core.Leases;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// A primary store streaming to a replica store in one process (no FUSE, no HTTP: the stream
/// runs over an in-memory pipe), and a replica fed upstream's captured streams.
/// </summary>
public sealed class ReplicationTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDir _temp = new("litefs-repl");
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
        });
        store.Open();
        _owned.Add(store);
        return store;
    }

    /// <summary>A data directory holding one database: some of a scenario's LTX files and the database as of the last one.</summary>
    private static Action<string> Seed(string scenario, string dbName, int lastTxId, string databaseFile, string? clusterId = null) => dir =>
    {
        var ltx = Path.Combine(dir, "dbs", dbName, "ltx");
        Directory.CreateDirectory(ltx);
        for (var i = 1; i <= lastTxId; i++)
        {
            var name = LtxFileName.Format(new TxId((ulong)i), new TxId((ulong)i));
            File.Copy(Golden(scenario, "ltx", name), Path.Combine(ltx, name));
        }
        File.Copy(databaseFile, Path.Combine(dir, "dbs", dbName, "database"));
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
        if (clusterId is not null)
        {
            File.WriteAllText(Path.Combine(dir, "clusterid"), clusterId + "\n");
        }
    };

    private ReplicaClient Follow(Store replica, IPrimaryClient primary)
    {
        var client = new ReplicaClient(replica, primary, new ReplicaOptions { ReconnectDelay = TimeSpan.FromMilliseconds(50) });
        _owned.Add(client);
        client.Start();
        return client;
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
    public void Replica_FedUpstreamSnapshotCapture_EndsByteIdenticalAtRecordedPosition()
    {
        var replica = NewStore("replica", primary: false);
        var primary = new CapturedPrimary(Golden("stream", "a-empty-posmap-snapshot", "response-body.bin"), "LFSCC4107E101BBC6363");
        var client = Follow(replica, primary);
        WaitFor(() => replica.Find("wal4096.db")?.Pos.TxId.Value == 6 && replica.IsReady, "the snapshot");
        client.Dispose(); // before it receives the snapshot again from the ended capture
        var db = replica.Find("wal4096.db")!;
        Assert.Equal("0000000000000006/ff47ac2266e33f3f", db.Pos.ToString());
        Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "database")), File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.Equal("LFSCC4107E101BBC6363", replica.ClusterId);
        Assert.Equal("LFSCC4107E101BBC6363\n", File.ReadAllText(Path.Combine(replica.DataDir, "clusterid")));
        Assert.Equal(Pos.Zero, primary.Requests[0].GetValueOrDefault("wal4096.db"));
        Assert.Single(Directory.GetFiles(db.LtxDir, "*.ltx"));
        Assert.Empty(Directory.GetFiles(db.LtxDir, ".recv.*"));
    }

    [Fact]
    public void Replica_FedUpstreamIncrementalCapture_AppliesFilesInOrder()
    {
        var replica = NewStore("replica", primary: false, Seed("wal-4096", "wal4096.db", 2, Golden("wal-4096", "pre-close", "database"), "LFSCC4107E101BBC6363"));
        var db = replica.Find("wal4096.db")!;
        Assert.Equal("0000000000000002/8db8bfd1c7afbe1f", db.Pos.ToString());
        Follow(replica, new CapturedPrimary(Golden("stream", "b-from-txid2-incremental", "response-body.bin"), "LFSCC4107E101BBC6363"));
        WaitFor(() => db.Pos.TxId.Value == 6, "TXID 6");
        Assert.Equal("0000000000000006/ff47ac2266e33f3f", db.Pos.ToString());
        Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "database")), File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        for (var i = 3; i <= 6; i++)
        {
            var name = LtxFileName.Format(new TxId((ulong)i), new TxId((ulong)i));
            Assert.Equal(File.ReadAllBytes(Golden("wal-4096", "ltx", name)), File.ReadAllBytes(Path.Combine(db.LtxDir, name)));
        }
    }

    [Fact]
    public void Replica_OtherClusterId_RefusesToReplicate()
    {
        var replica = NewStore("replica", primary: false, dir => File.WriteAllText(Path.Combine(dir, "clusterid"), "LFSC0000000000000001\n"));
        var primary = new CapturedPrimary(Golden("stream", "a-empty-posmap-snapshot", "response-body.bin"), "LFSCC4107E101BBC6363");
        Follow(replica, primary);
        WaitFor(() => primary.Requests.Count >= 2, "a reconnect");
        Assert.Null(replica.Find("wal4096.db"));
        Assert.False(replica.IsReady);
    }

    [Fact]
    public void Replica_IncrementalFileNotFollowingItsPosition_IsRefusedAndNothingChanges()
    {
        // Capture (c) carries TXID 7, which follows TXID 6; this replica is at TXID 2.
        var replica = NewStore("replica", primary: false, Seed("wal-4096", "wal4096.db", 2, Golden("wal-4096", "pre-close", "database"), "LFSCC4107E101BBC6363"));
        var db = replica.Find("wal4096.db")!;
        var before = File.ReadAllBytes(db.FilePath(DbFileKind.Database));
        var primary = new CapturedPrimary(Golden("stream", "c-caught-up-live-write", "response-body.bin"), "LFSCC4107E101BBC6363");
        Follow(replica, primary);
        WaitFor(() => primary.Requests.Count >= 2, "a reconnect after the mismatch");
        Assert.Equal("0000000000000002/8db8bfd1c7afbe1f", db.Pos.ToString());
        Assert.Equal(before, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.Equal(2, Directory.GetFiles(db.LtxDir, "*.ltx").Length);
    }

    [Fact]
    public void PrimaryToReplica_CatchUpThenLiveTransactions_Converge()
    {
        var scenario = "delete-1024";
        var primary = NewStore("primary", primary: true, Seed(scenario, "db", 3, Golden(scenario, "states", "txid-3.database")));
        var replica = NewStore("replica", primary: false);
        var link = new PipePrimaryClient(primary);
        Follow(replica, link);
        WaitFor(() => replica.Find("db")?.Pos == primary.Find("db")!.Pos && replica.IsReady, "catch-up");
        Assert.Equal(primary.ClusterId, replica.ClusterId);

        // New transactions on the primary reach the open stream.
        var pdb = primary.Find("db")!;
        foreach (var txid in new[] { 4, 5 })
        {
            var name = LtxFileName.Format(new TxId((ulong)txid), new TxId((ulong)txid));
            File.Copy(Golden(scenario, "ltx", name), Path.Combine(pdb.LtxDir, name));
            using (pdb.AcquireWriteLock(CancellationToken.None))
            {
                pdb.ApplyLtxFile(Path.Combine(pdb.LtxDir, name));
            }
        }
        WaitFor(() => replica.Find("db")!.Pos.TxId.Value == 5, "TXID 5 on the replica");
        var rdb = replica.Find("db")!;
        Assert.Equal(File.ReadAllText(Golden(scenario, "pos.txt")).Trim(), rdb.Pos.ToString());
        Assert.Equal(File.ReadAllBytes(Golden(scenario, "states", "txid-5.database")), File.ReadAllBytes(rdb.FilePath(DbFileKind.Database)));
        Assert.Equal(1, link.Connections);
        // The catch-up was a snapshot (the replica had nothing); then two incremental files.
        Assert.Equal(
            ["0000000000000001-0000000000000003.ltx", "0000000000000004-0000000000000004.ltx", "0000000000000005-0000000000000005.ltx"],
            Directory.GetFiles(rdb.LtxDir, "*.ltx").Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void PrimaryStream_FromTxId2_MatchesUpstreamCaptureUpToReady()
    {
        var primary = NewStore("primary", primary: true, Seed("wal-4096", "wal4096.db", 6, Golden("wal-4096", "database"), "LFSCC4107E101BBC6363"));
        var capture = File.ReadAllBytes(Golden("stream", "b-from-txid2-incremental", "response-body.bin"));
        var ready = 0x41a;
        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource();
        var streamer = new PrimaryStreamer(primary, TimeSpan.Zero);
        var positions = PosMapCodec.Decode(File.ReadAllBytes(Golden("stream", "b-from-txid2-incremental", "request-body.bin")));
        cts.CancelAfter(TimeSpan.FromMilliseconds(300));
        streamer.Run(0x1234567890ABCDEF, positions, null, output, cts.Token);
        var ours = output.ToArray();
        Assert.Equal(capture[..(ready + 4)], ours[..(ready + 4)]);
        Assert.Equal(StreamFrameType.Heartbeat, (StreamFrameType)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ours.AsSpan(ready + 4)));
        Assert.Equal([0, 0, 0, 3], ours[^4..]);
    }

    [Fact]
    public void PrimaryStream_ReplicaAtSameTxIdWithOtherChecksum_GetsSnapshot()
    {
        var primary = NewStore("primary", primary: true, Seed("wal-4096", "wal4096.db", 6, Golden("wal-4096", "database"), "LFSCC4107E101BBC6363"));
        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        new PrimaryStreamer(primary, TimeSpan.Zero).Run(1, new Dictionary<string, Pos> { ["wal4096.db"] = Pos.Parse("0000000000000006/8000000000000001") }, null, output, cts.Token);
        output.Position = 0;
        var reader = new StreamFrameReader(output);
        var frame = reader.Read()!.Value;
        Assert.Equal(StreamFrameType.Ltx, frame.Type);
        using var file = new MemoryStream();
        reader.Payload!.CopyTo(file);
        file.Position = 0;
        var (header, trailer, pages) = LtxDecoder.Verify(file);
        Assert.True(header.IsSnapshot);
        Assert.Equal(6ul, header.MaxTxId.Value);
        Assert.Equal(primary.NodeId, header.NodeId);
        Assert.Equal("ff47ac2266e33f3f", trailer.PostApplyChecksum.ToString());
        Assert.Equal(2, pages);
        Assert.Equal(StreamFrameType.Ready, reader.Read()!.Value.Type);
    }

    [Fact]
    public void WriteSnapshot_DatabaseChangedOutsideLiteFs_FailsNamingBothChecksums()
    {
        var primary = NewStore("primary", primary: true, Seed("wal-4096", "wal4096.db", 6, Golden("wal-4096", "database"), "LFSCC4107E101BBC6363"));
        var db = primary.Find("wal4096.db")!;
        using (var file = new FileStream(db.FilePath(DbFileKind.Database), FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            file.Position = 4096 + 1000;
            file.WriteByte(0x5A);
        }
        var ex = Assert.Throws<LiteFsException>(() => db.WriteSnapshot(Stream.Null, TimeSpan.Zero, CancellationToken.None));
        Assert.StartsWith("snapshot checksum mismatch at tx 0000000000000006: wal4096.db has checksum ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("its position says ff47ac2266e33f3f; the database file changed outside LiteFS", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PrimaryStream_Handoff_OutlivesTheTerm_SendsTheRestThenHandoffThenEnd()
    {
        var primary = NewStore("primary", primary: true, Seed("wal-4096", "wal4096.db", 6, Golden("wal-4096", "database"), "LFSCC4107E101BBC6363"));
        var handoff = new StreamHandoff { Candidate = true };
        Assert.True(handoff.TryArm());
        Assert.False(handoff.TryArm());
        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource(Patience);
        var positions = new Dictionary<string, Pos> { ["wal4096.db"] = new(new TxId(5), PostApplyChecksum("wal-4096", 5)) };
        var stream = Task.Factory.StartNew(() => new PrimaryStreamer(primary, TimeSpan.Zero).Run(7, positions, null, output, handoff, cts.Token), TaskCreationOptions.LongRunning);

        // The writes stop first; an armed stream goes on without a term until the lease ID comes.
        primary.Role.Demote("handing the lease off");
        await Task.Delay(50);
        Assert.False(stream.IsCompleted);
        await handoff.DeliverAsync("lease-42", cts.Token);
        await stream.WaitAsync(cts.Token);

        output.Position = 0;
        var reader = new StreamFrameReader(output);
        var types = new List<StreamFrameType>();
        string? leaseId = null;
        while (reader.Read() is { } frame)
        {
            types.Add(frame.Type);
            reader.Payload?.CopyTo(Stream.Null);
            if (frame.Type == StreamFrameType.Handoff)
            {
                leaseId = frame.LeaseId;
            }
            if (frame.Type == StreamFrameType.End)
            {
                break;
            }
        }
        Assert.Equal("lease-42", leaseId);
        Assert.Equal(StreamFrameType.Ltx, types[0]);
        Assert.True(types.IndexOf(StreamFrameType.Ltx) < types.IndexOf(StreamFrameType.Handoff));
        Assert.Equal([StreamFrameType.Handoff, StreamFrameType.End], types[^2..]);
        await Assert.ThrowsAsync<HandoffNotDeliveredException>(() => handoff.DeliverAsync("again", CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task StreamHandoff_StreamEnded_NotDelivered_OrFailedMidFrame()
    {
        var ended = new StreamHandoff();
        Assert.True(ended.TryArm());
        ended.Close(null, frameAttempted: false);
        await Assert.ThrowsAsync<HandoffNotDeliveredException>(() => ended.DeliverAsync("id", CancellationToken.None).AsTask());

        var beforeFrame = new StreamHandoff();
        Assert.True(beforeFrame.TryArm());
        var waiting = beforeFrame.DeliverAsync("id", CancellationToken.None).AsTask();
        beforeFrame.Close(new IOException("reset"), frameAttempted: false);
        await Assert.ThrowsAsync<HandoffNotDeliveredException>(() => waiting);

        var midFrame = new StreamHandoff();
        Assert.True(midFrame.TryArm());
        waiting = midFrame.DeliverAsync("id", CancellationToken.None).AsTask();
        midFrame.Close(new IOException("reset"), frameAttempted: true);
        var ex = await Assert.ThrowsAsync<IOException>(() => waiting);
        Assert.Contains("while sending the HANDOFF frame", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PrimaryStream_Filter_HidesOtherDatabases()
    {
        var primary = NewStore("primary", primary: true, Seed("wal-4096", "wal4096.db", 6, Golden("wal-4096", "database"), "LFSCC4107E101BBC6363"));
        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        new PrimaryStreamer(primary, TimeSpan.Zero).Run(1, new Dictionary<string, Pos>(), new HashSet<string> { "other.db" }, output, cts.Token);
        Assert.Equal([0, 0, 0, 2, 0, 0, 0, 7], output.ToArray()[..8]);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("cut")]
    public void Replica_CorruptOrCutSnapshot_LeavesNothingBehind(string fault)
    {
        var body = File.ReadAllBytes(Golden("stream", "a-empty-posmap-snapshot", "response-body.bin"));
        if (fault == "flip")
        {
            body[0x150] ^= 0x01; // inside the LZ4 block
        }
        else
        {
            body = body[..0x150];
        }
        var replica = NewStore("replica", primary: false);
        var primary = new CapturedPrimary(body, "LFSCC4107E101BBC6363");
        var client = Follow(replica, primary);
        WaitFor(() => primary.Requests.Count >= 2, "a reconnect after the bad stream");
        client.Dispose(); // no receive in progress while the directory is inspected
        var db = replica.Find("wal4096.db");
        Assert.NotNull(db);
        Assert.Equal(Pos.Zero, db.Pos);
        // Only the empty files made ahead of time for the next receive are there.
        Assert.All(Directory.GetFiles(db.LtxDir), f => Assert.StartsWith(".pool.", Path.GetFileName(f), StringComparison.Ordinal));
        Assert.All(Directory.GetFiles(db.LtxDir), f => Assert.Equal(0, new FileInfo(f).Length));
        Assert.False(File.Exists(db.FilePath(DbFileKind.Database)));
    }

    /// <summary>
    /// A stream carrying one snapshot of a made-up database of <paramref name="pages"/> pages
    /// (several 1 MiB runs) for wal4096.db at TXID 9, then READY; <paramref name="damage"/>
    /// spoils the LTX file before it is chunked, or cuts the stream.
    /// </summary>
    private static (byte[] Body, byte[] Database, Pos Pos) SnapshotStream(int pages, string? damage = null)
    {
        var random = new Random(pages);
        var database = new byte[pages * 4096];
        random.NextBytes(database);
        "SQLite format 3\0"u8.CopyTo(database);
        database[16] = 0x10;
        database[17] = 0;
        database[18] = database[19] = 1;
        using var ltx = new MemoryStream();
        var trailer = LtxSnapshot.Write(new MemoryStream(database), ltx, new TxId(9), new LtxSnapshotOptions { NodeId = 0x42 });
        var file = ltx.ToArray();
        if (damage == "flip")
        {
            // In the last page's data: found only by the checksums in the trailer, after every page.
            file[^(LtxLayout.TrailerSize + LtxLayout.PageHeaderSize + 100)] ^= 0x01;
        }
        using var body = new MemoryStream();
        var writer = new StreamFrameWriter(body);
        writer.WriteLtxHeader("wal4096.db");
        using (var chunked = new ChunkedWriteStream(body))
        {
            chunked.Write(file);
            chunked.Complete();
        }
        writer.WriteEmpty(StreamFrameType.Ready);
        var bytes = body.ToArray();
        return (damage == "cut" ? bytes[..(bytes.Length / 2)] : bytes, database, new Pos(new TxId(9), trailer.PostApplyChecksum));
    }

    [Fact]
    public void Replica_SnapshotOverExistingDatabase_ReplacesDatabaseAndHistory()
    {
        var replica = NewStore("replica", primary: false, Seed("wal-4096", "wal4096.db", 2, Golden("wal-4096", "pre-close", "database"), "LFSCC4107E101BBC6363"));
        var db = replica.Find("wal4096.db")!;
        var (body, database, pos) = SnapshotStream(700);
        var client = Follow(replica, new CapturedPrimary(body, "LFSCC4107E101BBC6363"));
        WaitFor(() => db.Pos == pos && replica.IsReady, "the snapshot");
        // The captured body ends, so the client reconnects and receives the snapshot again:
        // stopped here, so that what it stages meanwhile is not mistaken for a leftover.
        client.Dispose();
        Assert.Equal(database, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.Equal(700u, db.PageCount);
        Assert.Equal(pos.PostApplyChecksum, db.ComputeChecksum());
        Assert.Equal([LtxFileName.Format(new TxId(1), new TxId(9))], Directory.GetFiles(db.LtxDir, "*.ltx").Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(db.LtxDir, ".recv.*"));
        // The node reads the new file through its own handle too.
        var page = new byte[4096];
        db.Read(DbFileKind.Database, page, 699L * 4096);
        Assert.Equal(database[(699 * 4096)..], page);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("cut")]
    public void Replica_CorruptOrCutSnapshotOverExistingDatabase_LeavesItByteIdentical(string damage)
    {
        var replica = NewStore("replica", primary: false, Seed("wal-4096", "wal4096.db", 2, Golden("wal-4096", "pre-close", "database"), "LFSCC4107E101BBC6363"));
        var db = replica.Find("wal4096.db")!;
        var before = File.ReadAllBytes(db.FilePath(DbFileKind.Database));
        var ltxBefore = Directory.GetFiles(db.LtxDir, "*.ltx").Order().Select(File.ReadAllBytes).ToList();
        var posBefore = db.Pos;
        var entriesBefore = Directory.GetFileSystemEntries(db.Path).Order().ToList();
        var primary = new CapturedPrimary(SnapshotStream(700, damage).Body, "LFSCC4107E101BBC6363");
        var client = Follow(replica, primary);
        WaitFor(() => primary.Requests.Count >= 2, "a reconnect after the bad snapshot");
        client.Dispose(); // no receive in progress while the directory is inspected

        Assert.Equal(posBefore, db.Pos);
        Assert.Equal(before, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
        Assert.Equal(ltxBefore, Directory.GetFiles(db.LtxDir, "*.ltx").Order().Select(File.ReadAllBytes).ToList());
        // Besides the LTX files, only the empty files made ahead of time for the next receive.
        Assert.All(Directory.GetFiles(db.LtxDir).Where(f => !f.EndsWith(".ltx", StringComparison.Ordinal)), f =>
        {
            Assert.StartsWith(".pool.", Path.GetFileName(f), StringComparison.Ordinal);
            Assert.Equal(0, new FileInfo(f).Length);
        });
        Assert.Equal(entriesBefore, Directory.GetFileSystemEntries(db.Path).Order().ToList());
    }

    [Fact]
    public void Open_PartiallyReceivedFile_IsRemoved()
    {
        var replica = NewStore("replica", primary: false, dir =>
        {
            Directory.CreateDirectory(Path.Combine(dir, "dbs", "x.db", "ltx"));
            File.WriteAllText(Path.Combine(dir, "dbs", "x.db", "ltx", ".recv.0000000000000001-0000000000000009.ltx.123.tmp"), "partial");
        });
        Assert.Empty(Directory.GetFiles(replica.Find("x.db")!.LtxDir));
    }

    [Fact]
    public void Open_DatabaseAlreadyAtNewestFile_IsNotRewritten()
    {
        var scenario = "delete-1024";
        var written = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var node = NewStore("node", primary: false, dir =>
        {
            Seed(scenario, "db", 4, Golden(scenario, "states", "txid-4.database"))(dir);
            File.SetLastWriteTimeUtc(Path.Combine(dir, "dbs", "db", "database"), written);
        });
        var db = node.Find("db")!;
        Assert.Equal(new Pos(new TxId(4), PostApplyChecksum(scenario, 4)), db.Pos);
        Assert.Equal(written, File.GetLastWriteTimeUtc(db.FilePath(DbFileKind.Database)));
        Assert.Equal(File.ReadAllBytes(Golden(scenario, "states", "txid-4.database")), File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
    }

    [Fact]
    public void Open_NewestFileNotApplied_AppliesIt()
    {
        // The process stopped after storing TXID 4 and before writing its pages.
        var scenario = "delete-1024";
        var node = NewStore("node", primary: false, Seed(scenario, "db", 4, Golden(scenario, "states", "txid-3.database")));
        var db = node.Find("db")!;
        Assert.Equal(new Pos(new TxId(4), PostApplyChecksum(scenario, 4)), db.Pos);
        Assert.Equal(File.ReadAllBytes(Golden(scenario, "states", "txid-4.database")), File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
    }

    [Fact]
    public void Open_NewestFileNotAppliedWithChangesThatCancelInTheChecksum_AppliesIt()
    {
        // TXID 5 changes pages 2 and 3 by the same bytes: the page CRCs move by the same amount,
        // so the database checksum (their XOR) is the same before and after it. Its pages were
        // not written when the process stopped.
        var scenario = "delete-1024";
        var before = File.ReadAllBytes(Golden(scenario, "states", "txid-4.database"));
        const int pageSize = 1024;
        var after = (byte[])before.Clone();
        foreach (var pgno in new[] { 2, 3 })
        {
            after[((pgno - 1) * pageSize) + 1000] ^= 0x5A;
        }
        var pre = PostApplyChecksum(scenario, 4);
        var post = SqliteDatabase.ComputeChecksum(new MemoryStream(after));
        Assert.Equal(pre, post);
        var file = new MemoryStream();
        using (var encoder = new LtxEncoder(file))
        {
            encoder.WriteHeader(new LtxHeader
            {
                Flags = LtxLayout.FlagCompressLz4,
                PageSize = pageSize,
                Commit = (uint)(after.Length / pageSize),
                MinTxId = new TxId(5),
                MaxTxId = new TxId(5),
                Timestamp = 1_700_000_000_000,
                PreApplyChecksum = pre,
            });
            encoder.WritePage(2, after.AsSpan(pageSize, pageSize));
            encoder.WritePage(3, after.AsSpan(2 * pageSize, pageSize));
            encoder.Finish(post);
        }
        var node = NewStore("node", primary: false, dir =>
        {
            Seed(scenario, "db", 4, Golden(scenario, "states", "txid-4.database"))(dir);
            File.WriteAllBytes(Path.Combine(dir, "dbs", "db", "ltx", LtxFileName.Format(new TxId(5), new TxId(5))), file.ToArray());
        });
        var db = node.Find("db")!;
        Assert.Equal(new Pos(new TxId(5), post), db.Pos);
        Assert.Equal(after, File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
    }

    private static Checksum PostApplyChecksum(string scenario, ulong txid)
    {
        using var file = File.OpenRead(Golden(scenario, "ltx", LtxFileName.Format(new TxId(txid), new TxId(txid))));
        return LtxDecoder.Verify(file).Trailer.PostApplyChecksum;
    }

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }
        _temp.Dispose();
    }

    /// <summary>A primary that answers every stream request with the same recorded body.</summary>
    private sealed class CapturedPrimary(byte[] body, string clusterId) : IPrimaryClient
    {
        private readonly byte[] _body = body;

        public CapturedPrimary(string path, string clusterId)
            : this(File.ReadAllBytes(path), clusterId)
        {
        }

        public List<Dictionary<string, Pos>> Requests { get; } = [];

        public Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add(new Dictionary<string, Pos>(positions));
            }
            return Task.FromResult(new PrimaryStream(clusterId, new MemoryStream(_body, writable: false)));
        }
    }
}
