namespace LiteFs.Ltx.Tests;

/// <summary>Snapshots from a page source read in runs.</summary>
public class SnapshotTests
{
    private const int PageSize = 4096;

    /// <summary>A database of <paramref name="pages"/> pages of mixed content, page 1 with a SQLite header.</summary>
    private static byte[] Database(int pages, int seed = 5)
    {
        var random = new Random(seed);
        var db = new byte[pages * PageSize];
        for (var p = 0; p < pages; p++)
        {
            TestData.MixedPage(random, PageSize).CopyTo(db, p * PageSize);
        }
        StreamingTests.SqlitePage(PageSize).AsSpan(0, 100).CopyTo(db);
        return db;
    }

    private static byte[] Snapshot(byte[] db, bool compress, ulong txid = 9)
    {
        using var output = new MemoryStream();
        LtxSnapshot.Write(new MemoryStream(db, writable: false), output, new TxId(txid), new LtxSnapshotOptions { Compress = compress, Timestamp = 1234, NodeId = 7 });
        return output.ToArray();
    }

    /// <summary>Serves pages from an array, recording each run asked for.</summary>
    private sealed class ArrayPages(byte[] db) : ISnapshotPageSource
    {
        public List<(uint First, int Pages)> Runs { get; } = [];

        public void ReadPages(uint firstPgno, Span<byte> destination)
        {
            Runs.Add((firstPgno, destination.Length / PageSize));
            var offset = (int)(firstPgno - 1) * PageSize;
            var available = Math.Clamp(db.Length - offset, 0, destination.Length);
            db.AsSpan(offset, available).CopyTo(destination);
            destination[available..].Clear();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Write_FromPageSource_ReadsRunsAndEqualsStreamForm(bool compress)
    {
        var db = Database(700);
        var pages = new ArrayPages(db);
        using var output = new MemoryStream();
        var options = new LtxSnapshotOptions { Compress = compress, Timestamp = 1234, NodeId = 7 };
        var trailer = LtxSnapshot.Write(pages, PageSize, 700, output, new TxId(9), options);

        Assert.Equal(Snapshot(db, compress), output.ToArray());
        Assert.Equal(SqliteDatabase.ComputeChecksum(new MemoryStream(db)), trailer.PostApplyChecksum);
        // Every page asked for once, in order, in runs of up to 1 MiB.
        Assert.Equal(Enumerable.Range(1, 700).Select(p => (uint)p), pages.Runs.SelectMany(r => Enumerable.Range((int)r.First, r.Pages).Select(p => (uint)p)));
        Assert.All(pages.Runs, r => Assert.InRange(r.Pages, 1, (1 << 20) / PageSize));
        Assert.True(pages.Runs.Count < 10, $"{pages.Runs.Count} reads for 700 pages");
    }

    [Fact]
    public void Write_PagesPastEndOfSource_AreZeroPages()
    {
        var db = Database(3);
        using var output = new MemoryStream();
        LtxSnapshot.Write(new ArrayPages(db), PageSize, 5, output, new TxId(2), new LtxSnapshotOptions());
        var (header, _, pages) = TestData.Decode(output.ToArray());
        Assert.Equal(5u, header.Commit);
        Assert.Equal(new byte[PageSize], pages[4].Data);
        Assert.Equal(db.AsSpan(2 * PageSize, PageSize).ToArray(), pages[2].Data);
    }

    [Fact]
    public void Write_ExpectedChecksumDiffers_ThrowsAndFinishesNothingValid()
    {
        var db = Database(4);
        using var output = new MemoryStream();
        var ex = Assert.Throws<InvalidDataException>(() =>
            LtxSnapshot.Write(new ArrayPages(db), PageSize, 4, output, new TxId(3), new LtxSnapshotOptions { Name = "x.db" }, new Checksum(0x8000000000000001)));
        Assert.Contains("snapshot checksum mismatch at tx 0000000000000003", ex.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<LtxFormatException>(() => LtxDecoder.Verify(new MemoryStream(output.ToArray())));
    }

    [Fact]
    public void Write_Cancelled_StopsBetweenRuns()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() =>
            LtxSnapshot.Write(new ArrayPages(Database(10)), PageSize, 10, Stream.Null, new TxId(1), new LtxSnapshotOptions(), cancellationToken: cancelled.Token));
    }
}
