namespace LiteFs.Ltx.Tests;

public class IdentifierTests
{
    [Fact]
    public void TxId_Format_Is16LowercaseHex() => Assert.Equal("000000000000000d", new TxId(13).ToString());

    [Theory]
    [InlineData("000000000000000d", 13ul)]
    [InlineData("000000000000000D", 13ul)]
    [InlineData("ffffffffffffffff", ulong.MaxValue)]
    public void TxId_Parse_AcceptsEitherCase(string text, ulong value) => Assert.Equal(new TxId(value), TxId.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("d")]
    [InlineData("00000000000000d")]
    [InlineData("0000000000000000d")]
    [InlineData("000000000000000g")]
    [InlineData("-00000000000000d")]
    public void TxId_Parse_RejectsWrongLengthOrDigits(string text)
    {
        Assert.False(TxId.TryParse(text, out _));
        var ex = Assert.Throws<FormatException>(() => TxId.Parse(text));
        Assert.Contains("transaction id", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pos_Format_IsTxIdSlashChecksum()
    {
        var pos = new Pos(new TxId(5), new Checksum(0xe415b20785273d2a));
        Assert.Equal("0000000000000005/e415b20785273d2a", pos.ToString());
        Assert.Equal(pos, Pos.Parse(pos.ToString()));
    }

    [Fact]
    public void Pos_Parse_DoesNotCheckSeparatorLikeUpstream() =>
        Assert.Equal(new Pos(new TxId(1), new Checksum(2)), Pos.Parse("0000000000000001:0000000000000002"));

    [Theory]
    [InlineData("0000000000000001/000000000000002")]
    [InlineData("0000000000000001/00000000000000020")]
    [InlineData("000000000000000x/0000000000000002")]
    public void Pos_Parse_RejectsMalformed(string text) => Assert.False(Pos.TryParse(text, out _));

    [Fact]
    public void Pos_Zero_FormatsAsZeros() => Assert.Equal("0000000000000000/0000000000000000", Pos.Zero.ToString());

    [Fact]
    public void FileName_FormatAndParse_RoundTrip()
    {
        Assert.Equal("000000000000000d-000000000000000d.ltx", LtxFileName.Format(new TxId(13), new TxId(13)));
        Assert.True(LtxFileName.TryParse("0000000000000001-00000000000000ff.ltx", out var min, out var max));
        Assert.Equal((1ul, 255ul), (min.Value, max.Value));
    }

    [Theory]
    [InlineData("0000000000000001-00000000000000FF.ltx")]
    [InlineData("0000000000000001-00000000000000ff.ltx.tmp")]
    [InlineData("0000000000000001_00000000000000ff.ltx")]
    [InlineData("000000000000001-00000000000000ff.ltx")]
    [InlineData("database")]
    public void FileName_Parse_IgnoresOtherNames(string name) => Assert.False(LtxFileName.TryParse(name, out _, out _));

    [Fact]
    public void LockPage_MatchesSpecExamples()
    {
        Assert.Equal(262_145u, LtxLayout.LockPageNumber(4096));
        Assert.Equal(2_097_153u, LtxLayout.LockPageNumber(512));
        Assert.Equal(16_385u, LtxLayout.LockPageNumber(65536));
    }
}
