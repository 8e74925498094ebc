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
                var n = Math.Min(random.Next(0, 300), data.Length - offset);
                crc = Crc64Iso.Append(crc, data.AsSpan(offset, n));
                offset += n;
            }
            Assert.Equal(whole, crc);
        }
    }
}
