using System.Text;

namespace LiteFs.Ltx.Tests;

public class Crc64IsoTests
{
    [Fact]
    public void Compute_CheckString_GivesCatalogueValue() =>
        Assert.Equal(0xB90956C775A41001ul, Crc64Iso.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Fact]
    public void Compute_Empty_IsZero() => Assert.Equal(0ul, Crc64Iso.Compute([]));

    [Fact]
    public void Compute_DiffersFromEcma182() =>
        Assert.NotEqual(System.IO.Hashing.Crc64.HashToUInt64(Encoding.ASCII.GetBytes("123456789")), Crc64Iso.Compute(Encoding.ASCII.GetBytes("123456789")));

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(100)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(129)]
    [InlineData(143)]
    [InlineData(144)]
    [InlineData(191)]
    [InlineData(192)]
    [InlineData(255)]
    [InlineData(1000)]
    [InlineData(4096)]
    [InlineData(4100)]
    [InlineData(65537)]
    public void Append_SliceBy16_EqualsBytewise(int length)
    {
        var random = new Random(length);
        var data = new byte[length + 3];
        random.NextBytes(data);
        // Misaligned starts exercise the unaligned reads.
        for (var start = 0; start < 3; start++)
        {
            var span = data.AsSpan(start, length);
            Assert.Equal(Crc64Iso.AppendBytewise(0, span), Crc64Iso.Append(0, span));
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(200)]
    [InlineData(4100)]
    public void Append_FromNonZeroCrc_EqualsBytewise(int length)
    {
        var random = new Random(length);
        var data = new byte[length];
        random.NextBytes(data);
        foreach (var start in new ulong[] { 1, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, (ulong)random.NextInt64() })
        {
            Assert.Equal(Crc64Iso.AppendBytewise(start, data), Crc64Iso.Append(start, data));
            Assert.Equal(Crc64Iso.AppendBytewise(start, data), Crc64Iso.AppendTable(start, data));
        }
    }

    [Fact]
    public void Append_InPieces_EqualsOneShot()
    {
        var data = new byte[10_000];
        new Random(42).NextBytes(data);
        var whole = Crc64Iso.Compute(data);
        var random = new Random(7);
        for (var round = 0; round < 50; round++)
        {
            ulong crc = 0;
            var offset = 0;
            while (offset < data.Length)
            {
                // Pieces long enough for the folding form and short ones for the table form.
                var n = Math.Min(random.Next(0, round % 2 == 0 ? 300 : 3000), data.Length - offset);
                crc = Crc64Iso.Append(crc, data.AsSpan(offset, n));
                offset += n;
            }
            Assert.Equal(whole, crc);
        }
    }
}
