namespace LiteFs.Ltx.Tests;

/// <summary>The worked examples and test vectors of the LTX format description.</summary>
public class ExampleTests
{
    // Example B, file 2 as upstream's encoder wrote it with LZ4 (177 bytes).
    private const string File2Lz4Hex = "4c5458310000000100000200000000020000000000000002000000000000000200000000000007d0cc8fcea9775eaefe0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004224d186440a72a000000ff05000000027365636f6e642074786e3a207067322e1000ffd200f001c0786e3a207067322e0000000000000000da38aa7e907c2a69f82857f6a8186ab6012a77e9";

    private static readonly byte[] Page1 = TestData.ExamplePage1();
    private static readonly byte[] Page2 = TestData.ExamplePage2();
    private static readonly byte[] Page2Second = TestData.ExamplePage2Second();

    [Fact]
    public void PageChecksums_MatchVectors()
    {
        var raw = Crc64Iso.Append(Crc64Iso.Compute([0, 0, 0, 1]), Page1);
        Assert.Equal(0x2ef952e16d99d686ul, raw);
        Assert.Equal(0xaef952e16d99d686ul, Checksum.OfPage(1, Page1).Value);
        Assert.Equal(0xe2769c481ac77878ul, Checksum.OfPage(2, Page2).Value);
        Assert.Equal(0xbe85788895b18170ul, Checksum.OfPage(2, Page2Second).Value);
    }

    [Fact]
    public void RollingChecksum_MatchesVectors()
    {
        var afterFile1 = Checksum.Flag.Xor(Checksum.OfPage(1, Page1)).Xor(Checksum.OfPage(2, Page2));
        Assert.Equal(0xcc8fcea9775eaefeul, afterFile1.Value);
        var afterFile2 = afterFile1.Xor(Checksum.OfPage(2, Page2)).Xor(Checksum.OfPage(2, Page2Second));
        Assert.Equal(0x907c2a69f82857f6ul, afterFile2.Value);
    }

    [Theory]
    [InlineData(false, 1152, 0xc4091813703580f0ul)]
    [InlineData(true, 0, 0xb11281b01b844631ul)]
    public void EncodeFile1_GivesUpstreamFileChecksum(bool compress, int size, ulong fileChecksum)
    {
        var header = TestData.SnapshotHeader(512, 2, compress) with { NodeId = 0x0102030405060708 };
        var bytes = TestData.Encode(header, [(1, Page1), (2, Page2)], new Checksum(0xcc8fcea9775eaefe));
        if (size > 0)
        {
            Assert.Equal(size, bytes.Length);
        }
        Assert.Equal(fileChecksum, LtxDecoder.Verify(new MemoryStream(bytes)).Trailer.FileChecksum.Value);
    }

    [Theory]
    [InlineData(false, 636, 0xe375dc3400d60efbul)]
    [InlineData(true, 0, 0xa8186ab6012a77e9ul)]
    public void EncodeFile2_GivesUpstreamFileChecksum(bool compress, int size, ulong fileChecksum)
    {
        var bytes = TestData.Encode(File2Header(compress), [(2, Page2Second)], new Checksum(0x907c2a69f82857f6));
        if (size > 0)
        {
            Assert.Equal(size, bytes.Length);
        }
        Assert.Equal(fileChecksum, LtxDecoder.Verify(new MemoryStream(bytes)).Trailer.FileChecksum.Value);
    }

    [Fact]
    public void DecodeUpstreamLz4File2_GivesItsPagesAndTrailer()
    {
        var file = Convert.FromHexString(File2Lz4Hex);
        Assert.Equal(177, file.Length);
        var (header, trailer, pages) = TestData.Decode(file);
        Assert.Equal(File2Header(compress: true), header);
        Assert.Equal(0x907c2a69f82857f6ul, trailer.PostApplyChecksum.Value);
        Assert.Equal(0xa8186ab6012a77e9ul, trailer.FileChecksum.Value);
        var page = Assert.Single(pages);
        Assert.Equal(2u, page.Pgno);
        Assert.Equal(Page2Second, page.Data);
    }

    [Fact]
    public void ReencodeUpstreamLz4File2_Uncompressed_GivesUpstreamUncompressedChecksum()
    {
        var (header, trailer, pages) = TestData.Decode(Convert.FromHexString(File2Lz4Hex));
        var bytes = TestData.Encode(header with { Flags = 0 }, pages, trailer.PostApplyChecksum);
        Assert.Equal(0xe375dc3400d60efbul, LtxDecoder.Verify(new MemoryStream(bytes)).Trailer.FileChecksum.Value);
    }

    private static LtxHeader File2Header(bool compress) => new()
    {
        Flags = compress ? LtxLayout.FlagCompressLz4 : 0,
        PageSize = 512,
        Commit = 2,
        MinTxId = new TxId(2),
        MaxTxId = new TxId(2),
        Timestamp = 2000,
        PreApplyChecksum = new Checksum(0xcc8fcea9775eaefe),
    };
}
