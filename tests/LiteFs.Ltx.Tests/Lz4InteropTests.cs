using System.Diagnostics;
using LiteFs.TestKit;

namespace LiteFs.Ltx.Tests;

/// <summary>Our LZ4 page blocks against the reference <c>lz4</c> command-line tool.</summary>
public class Lz4InteropTests
{
    private static readonly List<(uint Pgno, byte[] Data)> Pages = MakePages();

    private static List<(uint, byte[])> MakePages()
    {
        var random = new Random(5);
        return Enumerable.Range(1, 40).Select(p => ((uint)p, TestData.MixedPage(random, 4096))).ToList();
    }

    /// <summary>The uncompressed page block: every frame and the end marker.</summary>
    private static byte[] PageBlock()
    {
        var plain = TestData.Encode(TestData.SnapshotHeader(4096, 40), Pages, TestData.RollingChecksum(Pages));
        return plain[LtxLayout.HeaderSize..^LtxLayout.TrailerSize];
    }

    [Fact]
    public void Lz4Cli_DecodesOurFrame_WithStoredBlocks()
    {
        // Random pages do not compress: every block is stored raw (size bit 31 set).
        var random = new Random(9);
        var pages = Enumerable.Range(1, 40).Select(p =>
        {
            var data = new byte[4096];
            random.NextBytes(data);
            return ((uint)p, data);
        }).ToList();
        var file = TestData.Encode(TestData.SnapshotHeader(4096, 40, compress: true), pages, TestData.RollingChecksum(pages));
        var frame = file[LtxLayout.HeaderSize..^LtxLayout.TrailerSize];
        Assert.Equal(0x80u, frame[7 + 3] & 0x80u); // the first block's size field
        using var temp = new TempDir();
        File.WriteAllBytes(temp.Combine("block.lz4"), frame);
        Lz4("-d", "-f", temp.Combine("block.lz4"), temp.Combine("block"));
        var plain = TestData.Encode(TestData.SnapshotHeader(4096, 40), pages, TestData.RollingChecksum(pages));
        Assert.Equal(plain[LtxLayout.HeaderSize..^LtxLayout.TrailerSize], File.ReadAllBytes(temp.Combine("block")));
        var decoded = TestData.Decode(file).Pages;
        Assert.Equal(pages.Select(p => p.Item1), decoded.Select(p => p.Pgno));
        Assert.Equal(pages.Select(p => p.Item2), decoded.Select(p => p.Data));
    }

    [Fact]
    public void Lz4Cli_DecodesOurFrame()
    {
        var file = TestData.Encode(TestData.SnapshotHeader(4096, 40, compress: true), Pages, TestData.RollingChecksum(Pages));
        using var temp = new TempDir();
        var frame = temp.Combine("block.lz4");
        File.WriteAllBytes(frame, file[LtxLayout.HeaderSize..^LtxLayout.TrailerSize]);
        Lz4("-d", "-f", frame, temp.Combine("block"));
        Assert.Equal(PageBlock(), File.ReadAllBytes(temp.Combine("block")));
    }

    [Theory]
    [InlineData("-B4", "-BI")] // upstream's settings
    [InlineData("-B7", "-BI")] // 4 MiB blocks
    [InlineData("-B4", "-BD")] // linked blocks
    [InlineData("-B5", "-BX")] // block checksums
    [InlineData("-B6", "--content-size")]
    public void Decoder_ReadsFramesWrittenByLz4Cli(string blockSize, string option)
    {
        var block = PageBlock();
        var plain = TestData.Encode(TestData.SnapshotHeader(4096, 40), Pages, TestData.RollingChecksum(Pages));
        using var temp = new TempDir();
        File.WriteAllBytes(temp.Combine("block"), block);
        Lz4("-z", "-f", blockSize, option, temp.Combine("block"), temp.Combine("block.lz4"));

        // Same header with the LZ4 flag, the tool's frame, and a trailer whose file checksum
        // covers the new header and the uncompressed content.
        var header = TestData.SnapshotHeader(4096, 40, compress: true);
        var headerBytes = new byte[LtxLayout.HeaderSize];
        header.Write(headerBytes);
        var crc = Crc64Iso.Append(Crc64Iso.Compute(headerBytes), block);
        var trailer = new byte[LtxLayout.TrailerSize];
        var post = plain.AsSpan(plain.Length - LtxLayout.TrailerSize, 8);
        post.CopyTo(trailer);
        crc = Crc64Iso.Append(crc, post);
        new LtxTrailer(LtxTrailer.Read(trailer).PostApplyChecksum, new Checksum(Checksum.FlagBit | crc)).Write(trailer);
        byte[] file = [.. headerBytes, .. File.ReadAllBytes(temp.Combine("block.lz4")), .. trailer];

        var (_, _, pages) = TestData.Decode(file);
        Assert.Equal(Pages.Select(p => p.Pgno), pages.Select(p => p.Pgno));
        Assert.All(pages.Zip(Pages), x => Assert.Equal(x.Second.Data, x.First.Data));
    }

    private static void Lz4(params string[] args)
    {
        var psi = new ProcessStartInfo("lz4") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add("-q");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start lz4 (apt-get install lz4)");
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"lz4 {string.Join(' ', args)} failed: {stderr}");
    }
}
