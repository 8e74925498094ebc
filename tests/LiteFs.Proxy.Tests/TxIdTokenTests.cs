using LiteFs.Ltx;
using Microsoft.Extensions.Primitives;

namespace LiteFs.Proxy.Tests;

public class TxIdTokenTests
{
    [Theory]
    [InlineData("__txid=000000000000002a", 0x2aul)]
    [InlineData("__txid=000000000000002A", 0x2aul)]
    [InlineData("a=b; __txid=0000000000000010; c=d", 0x10ul)]
    [InlineData("  __txid=0000000000000010  ", 0x10ul)]
    [InlineData("__txid=\"0000000000000010\"", 0x10ul)]
    [InlineData("__txid=ffffffffffffffff", ulong.MaxValue)]
    [InlineData("__txid=0000000000000000", 0ul)]
    public void TryParseCookie_WellFormed_Parses(string header, ulong expected)
    {
        Assert.True(TxIdToken.TryParseCookie(new StringValues(header), out var txId));
        Assert.Equal(expected, txId.Value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("__txid=")]
    [InlineData("__txid")]
    [InlineData("__txid=2a")]
    [InlineData("__txid=0x0000000000002a")]
    [InlineData("__txid=000000000000002g")]
    [InlineData("__txid=0000000000000002a")]
    [InlineData("__txid=-000000000000002")]
    [InlineData("__txid= 000000000000002a")]
    [InlineData("__TXID=000000000000002a")]
    [InlineData("txid=000000000000002a")]
    [InlineData("__txid=00000000\u00e900002a")]
    public void TryParseCookie_Malformed_Fails(string header)
    {
        Assert.False(TxIdToken.TryParseCookie(new StringValues(header), out _));
    }

    [Fact]
    public void TryParseCookie_FirstWellFormedCookieCounts()
    {
        // A cookie whose value has bytes Go rejects is skipped; the next one counts.
        Assert.True(TxIdToken.TryParseCookie(new StringValues("__txid=a\\b; __txid=0000000000000003"), out var txId));
        Assert.Equal(3ul, txId.Value);
        // The first well-formed one counts even when it is no TXID.
        Assert.False(TxIdToken.TryParseCookie(new StringValues("__txid=zz; __txid=0000000000000003"), out _));
        // Several Cookie headers are read in order.
        Assert.True(TxIdToken.TryParseCookie(new StringValues(["a=b", "__txid=0000000000000004"]), out txId));
        Assert.Equal(4ul, txId.Value);
    }

    [Fact]
    public void FromRequest_HeaderAndCookie_LargerWins()
    {
        Assert.Equal(new TxId(5), TxIdToken.FromRequest(new StringValues("__txid=0000000000000005"), new StringValues("0000000000000002")));
        Assert.Equal(new TxId(7), TxIdToken.FromRequest(StringValues.Empty, new StringValues("0000000000000007")));
        Assert.Equal(TxId.Zero, TxIdToken.FromRequest(new StringValues("__txid=bad"), new StringValues("bad")));
        Assert.Equal(TxId.Zero, TxIdToken.FromRequest(StringValues.Empty, StringValues.Empty));
    }

    [Fact]
    public void FormatSetCookie_UpstreamAttributes()
    {
        var now = new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero);
        Assert.Equal("__txid=000000000000002a; Path=/; Expires=Wed, 01 May 2024 10:05:00 GMT; HttpOnly", TxIdToken.FormatSetCookie(new TxId(42), now));
        var local = new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.FromHours(2));
        Assert.Equal("__txid=000000000000002a; Path=/; Expires=Wed, 01 May 2024 10:05:00 GMT; HttpOnly", TxIdToken.FormatSetCookie(new TxId(42), local));
    }
}
