namespace LiteFs.Ltx.Tests;

public class EncoderTests
{
    private const int PageSize = 1024;
    private static readonly byte[] Page = TestData.Repeat("encoder test ", PageSize);

    private static LtxEncoder Incremental(uint commit = 10)
    {
        var encoder = new LtxEncoder(new MemoryStream());
        encoder.WriteHeader(new LtxHeader
        {
            PageSize = PageSize,
            Commit = commit,
            MinTxId = new TxId(2),
            MaxTxId = new TxId(2),
            PreApplyChecksum = Checksum.Flag,
        });
        return encoder;
    }

    [Fact]
    public void WritePage_Zero_IsRejected() =>
        Assert.Contains("page number required", Assert.Throws<ArgumentOutOfRangeException>(() => Incremental().WritePage(0, Page)).Message, StringComparison.Ordinal);

    [Fact]
    public void WritePage_BeyondCommit_IsRejected() =>
        Assert.Contains("out-of-bounds for commit size 10", Assert.Throws<ArgumentOutOfRangeException>(() => Incremental().WritePage(11, Page)).Message, StringComparison.Ordinal);

    [Fact]
    public void WritePage_LockPage_IsRejected()
    {
        var lockPgno = LtxLayout.LockPageNumber(PageSize);
        Assert.Contains("cannot encode lock page", Assert.Throws<ArgumentOutOfRangeException>(() => Incremental(lockPgno + 5).WritePage(lockPgno, Page)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WritePage_OutOfOrder_IsRejected()
    {
        using var encoder = Incremental();
        encoder.WritePage(5, Page);
        Assert.Contains("out-of-order page numbers: 5,5", Assert.Throws<ArgumentOutOfRangeException>(() => encoder.WritePage(5, Page)).Message, StringComparison.Ordinal);
        Assert.Contains("out-of-order page numbers: 5,4", Assert.Throws<ArgumentOutOfRangeException>(() => encoder.WritePage(4, Page)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WritePage_WrongLength_IsRejected() =>
        Assert.Throws<ArgumentException>(() => Incremental().WritePage(1, new byte[PageSize - 1]));

    [Fact]
    public void WritePage_BeforeHeader_IsRejected() =>
        Assert.Throws<InvalidOperationException>(() => new LtxEncoder(new MemoryStream()).WritePage(1, Page));

    [Fact]
    public void Snapshot_Gap_IsRejected()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.WriteHeader(TestData.SnapshotHeader(PageSize, 3));
        encoder.WritePage(1, Page);
        Assert.Contains("page 2 expected, 3 given", Assert.Throws<ArgumentOutOfRangeException>(() => encoder.WritePage(3, Page)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshot_Incomplete_IsRejectedAtFinish()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.WriteHeader(TestData.SnapshotHeader(PageSize, 3));
        encoder.WritePage(1, Page);
        Assert.Contains("snapshot incomplete", Assert.Throws<InvalidOperationException>(() => encoder.Finish(encoder.SnapshotChecksum)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshot_WrongPostApply_IsRejected()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.WriteHeader(TestData.SnapshotHeader(PageSize, 1));
        encoder.WritePage(1, Page);
        Assert.Throws<ArgumentException>(() => encoder.Finish(Checksum.Flag));
    }

    [Fact]
    public void Snapshot_SkipsLockPage()
    {
        // A 512-byte-page snapshot crossing the lock page is large (1 GiB); a 64 KiB-page one is
        // 16385 pages. Check the rule with the smallest page count instead: the successor of the
        // page before the lock page is the page after it.
        const int size = 65536;
        var lockPgno = LtxLayout.LockPageNumber(size);
        var page = new byte[size];
        using var encoder = new LtxEncoder(Stream.Null);
        encoder.WriteHeader(TestData.SnapshotHeader(size, lockPgno + 1));
        for (uint p = 1; p < lockPgno; p++)
        {
            encoder.WritePage(p, page);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.WritePage(lockPgno, page));
        encoder.WritePage(lockPgno + 1, page);
        var trailer = encoder.Finish(encoder.SnapshotChecksum);
        Assert.True(trailer.FileChecksum.HasFlag);
    }

    [Fact]
    public void Finish_PostApplyWithoutFlag_IsRejected() =>
        Assert.Throws<ArgumentException>(() => Incremental().Finish(new Checksum(1)));

    [Fact]
    public void Finish_DeletionNeedsFlagChecksum() =>
        Assert.Throws<ArgumentException>(() => Incremental(commit: 0).Finish(new Checksum(0x8000000000000001)));

    [Fact]
    public void Finish_Twice_IsRejected()
    {
        using var encoder = Incremental();
        encoder.Finish(Checksum.Flag);
        Assert.Throws<InvalidOperationException>(() => encoder.Finish(Checksum.Flag));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTrip_RandomFiles_GiveBackPages(bool compress)
    {
        var random = new Random(compress ? 1 : 2);
        foreach (var pageSize in new[] { 512, 4096, 65536 })
        {
            var pgnos = Enumerable.Range(1, 40).Where(_ => random.Next(3) == 0).Select(p => (uint)p).ToList();
            var pages = pgnos.Select(p => (p, TestData.MixedPage(random, pageSize))).ToList();
            var header = new LtxHeader
            {
                Flags = compress ? LtxLayout.FlagCompressLz4 : 0,
                PageSize = pageSize,
                Commit = 40,
                MinTxId = new TxId(7),
                MaxTxId = new TxId(9),
                Timestamp = 1_795_488_374_328,
                PreApplyChecksum = new Checksum(0x8123456789abcdef),
                WalOffset = 32,
                WalSize = 4120,
                WalSalt1 = 0x29314375,
                WalSalt2 = 0x1dcea0bc,
                NodeId = 0x5B20CD58D8A55B1D,
            };
            var file = TestData.Encode(header, pages, new Checksum(0xfedcba9876543210));
            var (h, t, decoded) = TestData.Decode(file);
            Assert.Equal(header, h);
            Assert.Equal(0xfedcba9876543210ul, t.PostApplyChecksum.Value);
            Assert.Equal(pgnos, decoded.Select(d => d.Pgno));
            Assert.All(decoded.Zip(pages), x => Assert.Equal(x.Second.Item2, x.First.Data));
            if (!compress)
            {
                Assert.Equal(LtxLayout.UncompressedFileSize(pageSize, pages.Count), file.Length);
            }
        }
    }

    [Fact]
    public void Compressed_LargeFile_SpansManyLz4Blocks()
    {
        var random = new Random(3);
        var pages = Enumerable.Range(1, 100).Select(p => ((uint)p, TestData.MixedPage(random, 4096))).ToList();
        var file = TestData.Encode(TestData.SnapshotHeader(4096, 100, compress: true), pages, TestData.RollingChecksum(pages));
        var (_, _, decoded) = TestData.Decode(file);
        Assert.Equal(100, decoded.Count);
        Assert.True(file.Length < LtxLayout.UncompressedFileSize(4096, 100));
    }

    [Fact]
    public void BytesWritten_EqualsStreamLength()
    {
        foreach (var compress in new[] { false, true })
        {
            using var ms = new MemoryStream();
            using var encoder = new LtxEncoder(ms);
            encoder.WriteHeader(TestData.SnapshotHeader(PageSize, 1, compress));
            encoder.WritePage(1, Page);
            encoder.Finish(encoder.SnapshotChecksum);
            Assert.Equal(ms.Length, encoder.BytesWritten);
        }
    }
}
