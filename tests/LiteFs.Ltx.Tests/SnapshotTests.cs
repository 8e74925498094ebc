using LiteFs.TestKit;

namespace LiteFs.Ltx.Tests;

/// <summary>
/// Snapshots from a page source read in runs, and restoring a snapshot into a new database file
/// in one verifying pass.
/// </summary>
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Restore_Snapshot_WritesDatabaseAndGivesEachPageChecksum(bool compress)
    {
        var db = Database(700);
        var file = Snapshot(db, compress);
        using var temp = new TempDir();
        var path = temp.Combine("restored");
        var checksums = new Dictionary<uint, Checksum>();
        LtxHeader header;
        LtxTrailer trailer;
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            (header, trailer) = LtxSnapshot.Restore(new MemoryStream(file), handle, (pgno, c) => checksums.Add(pgno, c));
        }
        Assert.Equal(db, File.ReadAllBytes(path));
        Assert.Equal((9ul, 700u), (header.MaxTxId.Value, header.Commit));
        Assert.Equal(LtxDecoder.Verify(new MemoryStream(file)).Trailer, trailer);
        Assert.Equal(700, checksums.Count);
        for (uint p = 1; p <= 700; p++)
        {
            Assert.Equal(Checksum.OfPage(p, db.AsSpan((int)(p - 1) * PageSize, PageSize)), checksums[p]);
        }
    }

    public static TheoryData<string, bool> Damages => new()
    {
        { "flip in the last page", false },
        { "flip in the last page", true },
        { "cut half-way", false },
        { "cut half-way", true },
        { "byte after the trailer", false },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void Restore_DamagedSnapshot_FailsAfterWritingWhatCame(string damage, bool compress)
    {
        var db = Database(700);
        var file = Snapshot(db, compress);
        file = damage switch
        {
            // Found only by the checksums in the trailer, once every page was written.
            "flip in the last page" when !compress => Flip(file, file.Length - LtxLayout.TrailerSize - LtxLayout.PageHeaderSize - 100),
            // In an LZ4 frame the bytes before the content checksum and the block size fields.
            "flip in the last page" => Flip(file, file.Length - LtxLayout.TrailerSize - 8 - 100),
            "cut half-way" => file[..(file.Length / 2)],
            _ => [.. file, 0],
        };
        using var temp = new TempDir();
        using var handle = File.OpenHandle(temp.Combine("restored"), FileMode.CreateNew, FileAccess.ReadWrite);
        Assert.ThrowsAny<LtxFormatException>(() => LtxSnapshot.Restore(new MemoryStream(file), handle));
        Assert.True(RandomAccess.GetLength(handle) > 0, "pages before the damage were written");
    }

    private static byte[] Flip(byte[] file, int offset)
    {
        var copy = file.ToArray();
        copy[offset] ^= 0x10;
        return copy;
    }

    [Fact]
    public void Restore_NotSnapshot_IsRejectedBeforeAnyWrite()
    {
        var pages = new List<(uint, byte[])> { (2, TestData.Repeat("p2", PageSize)) };
        var header = TestData.SnapshotHeader(PageSize, 3, txid: 5) with { MinTxId = new TxId(5), PreApplyChecksum = new Checksum(0x8000000000000001) };
        var file = TestData.Encode(header, pages, new Checksum(0x8000000000000002));
        using var temp = new TempDir();
        using var handle = File.OpenHandle(temp.Combine("restored"), FileMode.CreateNew, FileAccess.ReadWrite);
        var ex = Assert.Throws<LtxFormatException>(() => LtxSnapshot.Restore(new MemoryStream(file), handle));
        Assert.Contains("not a snapshot", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, RandomAccess.GetLength(handle));
    }

    [Fact]
    public void Restore_AcrossLockPage_LeavesItsHoleAndPlacesLaterPages()
    {
        // The lock page is the page at 1 GiB whatever the page size: with 64 KiB pages that is
        // page 16385. Pages are zeros but for their number, so the compressed file is small.
        const int size = 65536;
        var lockPgno = LtxLayout.LockPageNumber(size);
        var commit = lockPgno + 2;
        var page = new byte[size];
        using var ltx = new MemoryStream();
        using (var encoder = new LtxEncoder(ltx))
        {
            encoder.WriteHeader(TestData.SnapshotHeader(size, commit, compress: true));
            for (uint p = 1; p <= commit; p++)
            {
                if (p != lockPgno)
                {
                    BitConverter.TryWriteBytes(page, p);
                    encoder.WritePage(p, page);
                }
            }
            encoder.Finish(encoder.SnapshotChecksum);
        }
        ltx.Position = 0;
        using var temp = new TempDir();
        using var handle = File.OpenHandle(temp.Combine("restored"), FileMode.CreateNew, FileAccess.ReadWrite);
        var reported = new List<uint>();
        LtxSnapshot.Restore(ltx, handle, (pgno, _) => reported.Add(pgno));

        Assert.Equal((long)commit * size, RandomAccess.GetLength(handle));
        Assert.Equal((int)commit - 1, reported.Count);
        Assert.DoesNotContain(lockPgno, reported);
        var read = new byte[size];
        foreach (var p in new uint[] { 1, lockPgno - 1, lockPgno, lockPgno + 1, commit })
        {
            RandomAccess.Read(handle, read, (long)(p - 1) * size);
            Assert.Equal(p == lockPgno ? 0u : p, BitConverter.ToUInt32(read));
            Assert.True(read.AsSpan(4).IndexOfAnyExcept((byte)0) < 0, $"page {p} has data past its number");
        }
    }
}
