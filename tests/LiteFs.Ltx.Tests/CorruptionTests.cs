using System.Buffers.Binary;

namespace LiteFs.Ltx.Tests;

/// <summary>Every kind of damage gives a specific <see cref="LtxFormatException"/>, never anything else.</summary>
public class CorruptionTests
{
    private const int PageSize = 512;

    private static readonly byte[] PageA = TestData.Repeat("page a. ", PageSize);
    private static readonly byte[] PageB = TestData.Repeat("page b! ", PageSize);

    /// <summary>A valid non-snapshot file: TXID 5, pages 1 and 3 of a 3-page database.</summary>
    private static byte[] Incremental(bool compress = false) => TestData.Encode(IncrementalHeader(compress), [(1, PageA), (3, PageB)], new Checksum(0x8000000000000123));

    private static LtxHeader IncrementalHeader(bool compress = false) => new()
    {
        Flags = compress ? LtxLayout.FlagCompressLz4 : 0,
        PageSize = PageSize,
        Commit = 3,
        MinTxId = new TxId(5),
        MaxTxId = new TxId(5),
        Timestamp = 1,
        PreApplyChecksum = new Checksum(0x8000000000000abc),
    };

    private static LtxFormatException Fails(byte[] file) =>
        Assert.Throws<LtxFormatException>(() => LtxDecoder.Verify(new MemoryStream(file)));

    public static TheoryData<string, int, long, string> HeaderCases => new()
    {
        { "bad magic", LtxLayout.Magic, 0x4c545832, "header.Magic" },
        { "unknown flag", LtxLayout.Flags, 2, "header.Flags" },
        { "page size 0", LtxLayout.PageSize, 0, "header.PageSize" },
        { "page size 256", LtxLayout.PageSize, 256, "header.PageSize" },
        { "page size not power of two", LtxLayout.PageSize, 1000, "header.PageSize" },
        { "page size 128 KiB", LtxLayout.PageSize, 131072, "header.PageSize" },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void Header_U32FieldOutOfRange_NamesField(string name, int offset, long value, string field)
    {
        var file = Incremental();
        BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(offset), (uint)value);
        var ex = Fails(file);
        Assert.True(field == ex.Field, $"{name}: {ex.Message}");
        Assert.Equal(offset, ex.Offset);
    }

    public static TheoryData<string, Func<LtxHeader, LtxHeader>, string, string> HeaderRuleCases => new()
    {
        { "min txid 0", h => h with { MinTxId = TxId.Zero }, "header.MinTXID", "minimum transaction id required" },
        { "max txid 0", h => h with { MaxTxId = TxId.Zero }, "header.MaxTXID", "maximum transaction id required" },
        { "min after max", h => h with { MinTxId = new TxId(9), MaxTxId = new TxId(8) }, "header.MaxTXID", "transaction ids out of order: (9,8)" },
        { "negative wal offset", h => h with { WalOffset = -1, WalSize = 10 }, "header.WALOffset", "negative" },
        { "negative wal size", h => h with { WalOffset = 32, WalSize = -1 }, "header.WALSize", "negative" },
        { "salt without offset", h => h with { WalSalt1 = 7 }, "header.WALOffset", "salt" },
        { "offset without size", h => h with { WalOffset = 32 }, "header.WALSize", "wal size required if wal offset exists" },
        { "size without offset", h => h with { WalSize = 32 }, "header.WALOffset", "wal offset required if wal size exists" },
        { "snapshot with pre-apply", h => h with { MinTxId = new TxId(1), PreApplyChecksum = new Checksum(0x8000000000000001) }, "header.PreApplyChecksum", "must be zero on snapshots" },
        { "incremental without pre-apply", h => h with { PreApplyChecksum = default }, "header.PreApplyChecksum", "pre-apply checksum required" },
        { "pre-apply without flag", h => h with { PreApplyChecksum = new Checksum(0x1234) }, "header.PreApplyChecksum", "invalid pre-apply checksum format" },
    };

    [Theory]
    [MemberData(nameof(HeaderRuleCases))]
    public void Header_RuleBroken_NamesFieldAndRule(string name, Func<LtxHeader, LtxHeader> mutate, string field, string text)
    {
        var file = Incremental();
        mutate(IncrementalHeader()).Write(file);
        var ex = Fails(file);
        Assert.True(field == ex.Field, $"{name}: {ex.Message}");
        Assert.Contains(text, ex.Message, StringComparison.Ordinal);
        // The encoder refuses to write the same header.
        Assert.Throws<LtxFormatException>(() => new LtxEncoder(new MemoryStream()).WriteHeader(mutate(IncrementalHeader())));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncation_AtEveryLength_IsFormatError(bool compress)
    {
        var file = Incremental(compress);
        for (var length = 0; length < file.Length; length++)
        {
            var ex = Fails(file[..length]);
            var expected = length < LtxLayout.HeaderSize ? "header"
                : length >= file.Length - LtxLayout.TrailerSize ? "trailer"
                : null;
            if (expected is not null)
            {
                Assert.True(expected == ex.Field, $"length {length}: {ex.Message}");
            }
            else
            {
                Assert.True(ex.Field.StartsWith("page", StringComparison.Ordinal) || ex.Field.StartsWith("lz4", StringComparison.Ordinal), $"length {length}: {ex.Message}");
            }
            Assert.Contains("end of file", ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(LtxLayout.HeaderSize + 4 + 10)]
    [InlineData(LtxLayout.HeaderSize + 4 + PageSize + 4 + PageSize - 1)]
    public void FlippedPageByte_IsFileChecksumMismatch(int offset)
    {
        var file = Incremental();
        file[offset] ^= 0x01;
        var ex = Fails(file);
        Assert.Equal("trailer.FileChecksum", ex.Field);
        Assert.Contains("file checksum mismatch", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FlippedPageNumber_IsRejected()
    {
        var file = Incremental();
        file[LtxLayout.HeaderSize + 3] = 2; // page 1 becomes page 2: still ordered, caught by the checksum
        Assert.Equal("trailer.FileChecksum", Fails(file).Field);
    }

    [Fact]
    public void FlippedByte_InEveryPositionOfTheLz4Frame_IsFormatErrorOrSameContent()
    {
        var file = Incremental(compress: true);
        for (var offset = LtxLayout.HeaderSize; offset < file.Length - LtxLayout.TrailerSize; offset++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                var copy = (byte[])file.Clone();
                copy[offset] ^= (byte)(1 << bit);
                AssertRejectedOrUnchanged(file, copy, $"offset {offset} bit {bit}");
            }
        }
    }

    /// <summary>
    /// No checksum covers the compressed bytes themselves, so a change that decompresses to the
    /// same content (a match offset moved by a multiple of a repeating pattern's period) is not
    /// damage. Anything else must be a format error.
    /// </summary>
    private static void AssertRejectedOrUnchanged(byte[] original, byte[] damaged, string what)
    {
        var ex = Record.Exception(() => LtxDecoder.Verify(new MemoryStream(damaged)));
        if (ex is null)
        {
            var (h1, t1, p1) = TestData.Decode(original);
            var (h2, t2, p2) = TestData.Decode(damaged);
            Assert.True(h1 == h2 && t1 == t2 && p1.Count == p2.Count && p1.Zip(p2).All(x => x.First.Pgno == x.Second.Pgno && x.First.Data.SequenceEqual(x.Second.Data)),
                $"{what}: a damaged file verified with different content");
            Assert.True(h1.IsCompressed, $"{what}: an uncompressed file verified after damage");
            return;
        }
        Assert.True(ex is LtxFormatException, $"{what}: {ex.GetType().Name} instead of a format error: {ex}");
    }

    [Fact]
    public void FlippedLz4ContentChecksum_NamesIt()
    {
        var file = Incremental(compress: true);
        file[^(LtxLayout.TrailerSize + 1)] ^= 0xff;
        Assert.Equal("lz4 content checksum", Fails(file).Field);
    }

    [Fact]
    public void FlippedLz4Magic_NamesIt()
    {
        var file = Incremental(compress: true);
        file[LtxLayout.HeaderSize] ^= 0xff;
        var ex = Fails(file);
        Assert.Equal("lz4 frame magic", ex.Field);
        Assert.Equal(LtxLayout.HeaderSize, ex.Offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void FlippedTrailerByte_IsFileChecksumMismatch(int trailerOffset)
    {
        var file = Incremental();
        file[file.Length - LtxLayout.TrailerSize + trailerOffset] ^= 0x01;
        Assert.Equal("trailer.FileChecksum", Fails(file).Field);
    }

    [Fact]
    public void PagesOutOfOrder_NamesFrameAndPages()
    {
        var file = TestData.Raw(IncrementalHeader(), [(3, PageB), (1, PageA)], new Checksum(0x8000000000000123));
        var ex = Fails(file);
        Assert.Equal("page frame 2", ex.Field);
        Assert.Equal(LtxLayout.HeaderSize + 4 + PageSize, ex.Offset);
        Assert.Contains("out-of-order page numbers: 3,1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicatePage_IsOutOfOrder() =>
        Assert.Contains("out-of-order", Fails(TestData.Raw(IncrementalHeader(), [(1, PageA), (1, PageB)], new Checksum(0x8000000000000123))).Message, StringComparison.Ordinal);

    [Fact]
    public void PageBeyondCommit_NamesFrame()
    {
        var file = TestData.Raw(IncrementalHeader(), [(1, PageA), (4, PageB)], new Checksum(0x8000000000000123));
        var ex = Fails(file);
        Assert.Equal("page frame 2", ex.Field);
        Assert.Contains("page number 4 out-of-bounds for commit size 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LockPage_IsRejected()
    {
        var lockPgno = LtxLayout.LockPageNumber(PageSize);
        var file = TestData.Raw(IncrementalHeader() with { Commit = lockPgno + 1 }, [(lockPgno, PageA)], new Checksum(0x8000000000000123));
        Assert.Contains("lock page", Fails(file).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SnapshotWithGap_IsRejected()
    {
        var file = TestData.Raw(TestData.SnapshotHeader(PageSize, 3), [(1, PageA), (3, PageB)], TestData.RollingChecksum([(1, PageA), (3, PageB)]));
        Assert.Contains("snapshot pages must be contiguous", Fails(file).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SnapshotMissingLastPage_IsRejected()
    {
        var file = TestData.Raw(TestData.SnapshotHeader(PageSize, 3), [(1, PageA), (2, PageB)], TestData.RollingChecksum([(1, PageA), (2, PageB)]));
        Assert.Contains("pages are missing", Fails(file).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SnapshotWithWrongPostApply_NamesTrailerField()
    {
        var file = TestData.Raw(TestData.SnapshotHeader(PageSize, 2), [(1, PageA), (2, PageB)], new Checksum(0x8000000000000001));
        var ex = Fails(file);
        Assert.Equal("trailer.PostApplyChecksum", ex.Field);
        Assert.Contains("does not match calculated checksum", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PostApplyWithoutFlag_IsRejected() =>
        Assert.Equal("trailer.PostApplyChecksum", Fails(TestData.Raw(IncrementalHeader(), [(1, PageA)], new Checksum(0x123))).Field);

    [Fact]
    public void DeletionFileWithWrongPostApply_IsRejected() =>
        Assert.Contains("deletion file", Fails(TestData.Raw(IncrementalHeader() with { Commit = 0 }, [], new Checksum(0x8000000000000001))).Message, StringComparison.Ordinal);

    [Fact]
    public void DeletionFile_IsValid()
    {
        var file = TestData.Encode(IncrementalHeader() with { Commit = 0 }, [], Checksum.Flag);
        Assert.Equal(LtxLayout.UncompressedFileSize(PageSize, 0), file.Length);
        Assert.Equal(0, LtxDecoder.Verify(new MemoryStream(file)).PageCount);
    }

    [Fact]
    public void BytesAfterTrailer_AreRejectedByVerify()
    {
        var ex = Fails([.. Incremental(), 0]);
        Assert.Contains("follow the trailer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lz4ContentAfterEndMarker_IsExpectedEndFrameError()
    {
        var header = IncrementalHeader(compress: true);
        using var ms = new MemoryStream();
        var headerBytes = new byte[LtxLayout.HeaderSize];
        header.Write(headerBytes);
        ms.Write(headerBytes);
        using (var lz4 = new Lz4FrameWriter(ms))
        {
            lz4.Write([0, 0, 0, 1]);
            lz4.Write(PageA);
            lz4.Write([0, 0, 0, 0]);
            lz4.Write([1, 2, 3, 4]); // content past the end marker
            lz4.Finish();
        }
        ms.Write(new byte[LtxLayout.TrailerSize]);
        var ex = Fails(ms.ToArray());
        Assert.Contains("expected lz4 end frame", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 300)]
    [InlineData(301, 300)]
    public void RandomDamage_AlwaysFormatErrorOrSameContent(int firstSeed, int count)
    {
        for (var seed = firstSeed; seed < firstSeed + count; seed++)
        {
            var random = new Random(seed);
            var compress = random.Next(2) == 0;
            var pageSize = 512 << random.Next(4);
            var pageCount = random.Next(0, 6);
            var pages = Enumerable.Range(1, pageCount).Select(p => ((uint)p, TestData.MixedPage(random, pageSize))).ToList();
            var file = TestData.Encode(TestData.SnapshotHeader(pageSize, (uint)pageCount, compress, txid: 3), pages, TestData.RollingChecksum(pages));
            AssertRejectedOrUnchanged(file, Damage(random, file), $"seed {seed}");
        }
    }

    private static byte[] Damage(Random random, byte[] file)
    {
        switch (random.Next(4))
        {
            case 0:
                return file[..random.Next(file.Length)];
            case 1:
                var insertAt = random.Next(file.Length + 1);
                var extra = new byte[random.Next(1, 9)];
                random.NextBytes(extra);
                return [.. file[..insertAt], .. extra, .. file[insertAt..]];
            default:
                var copy = (byte[])file.Clone();
                var flips = random.Next(1, 5);
                for (var i = 0; i < flips; i++)
                {
                    copy[random.Next(copy.Length)] ^= (byte)random.Next(1, 256);
                }
                return copy.AsSpan().SequenceEqual(file) ? copy[..^1] : copy;
        }
    }
}
