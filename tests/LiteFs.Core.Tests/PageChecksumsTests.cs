using LiteFs.Ltx;

namespace LiteFs.Core.Tests;

public class PageChecksumsTests
{
    private static Checksum Page(uint pgno, byte fill) => Checksum.OfPage(pgno, Enumerable.Repeat(fill, 512).ToArray());

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    public void ZeroPage_EqualsTheChecksumOfAPageOfZeros(int pageSize)
    {
        var table = new PageChecksums();
        var zeros = new byte[pageSize];
        foreach (var pgno in new uint[] { 1, 2, 3, 255, 256, 257, 65537, (1u << 20) + 7, 0x7fffffff, uint.MaxValue })
        {
            Assert.Equal(Checksum.OfPage(pgno, zeros).Value, table.ZeroPage(pgno, pageSize));
        }
        // Another page size afterwards: the bits are worked out again.
        Assert.Equal(Checksum.OfPage(9, new byte[1024]).Value, table.ZeroPage(9, 1024));
    }

    [Fact]
    public void Compute_EqualsXorOfPages_AcrossBlocksAndTruncation()
    {
        var table = new PageChecksums();
        var random = new Random(1);
        var expected = new Dictionary<uint, Checksum>();
        for (var round = 0; round < 2000; round++)
        {
            var pgno = (uint)random.Next(1, 1000);
            var c = Page(pgno, (byte)random.Next(256));
            table.SetDatabase(pgno, c);
            expected[pgno] = c;
            if (round % 97 == 0)
            {
                var n = (uint)random.Next(1, 1000);
                table.Truncate(n);
                foreach (var p in expected.Keys.Where(p => p > n).ToList())
                {
                    expected.Remove(p);
                }
            }
            var count = (uint)random.Next(0, 1000);
            var want = Checksum.Flag;
            for (uint p = 1; p <= count; p++)
            {
                want = want.Xor(expected.TryGetValue(p, out var known) ? known : Checksum.OfPage(p, new byte[512]));
            }
            Assert.Equal(want, table.Compute(count, 512));
        }
    }

    [Fact]
    public void Hole_CountsAsZeroPage()
    {
        var table = new PageChecksums();
        table.SetDatabase(1, Page(1, 1));
        table.SetDatabase(3, Page(3, 3));
        Assert.Equal(Checksum.Flag.Xor(Page(1, 1)).Xor(Page(2, 0)).Xor(Page(3, 3)), table.Compute(3, 512));
    }

    [Fact]
    public void WalOverlay_ReplacesDatabaseVersion()
    {
        var table = new PageChecksums();
        table.SetDatabase(1, Page(1, 1));
        table.SetDatabase(2, Page(2, 2));
        table.SetWal(2, Page(2, 3));
        table.SetWal(3, Page(3, 4));
        Assert.Equal(Checksum.Flag.Xor(Page(1, 1)).Xor(Page(2, 3)).Xor(Page(3, 4)), table.Compute(3, 512));
        table.ClearWal();
        Assert.Equal(Checksum.Flag.Xor(Page(1, 1)).Xor(Page(2, 2)).Xor(Page(3, 0)), table.Compute(3, 512));
    }
}
