using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

public class GoDurationTests
{
    // Cases from the behaviour of Go's time.ParseDuration, in 100 ns ticks.
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("+0", 0L)]
    [InlineData("-0", 0L)]
    [InlineData("0s", 0L)]
    [InlineData("5s", 50_000_000L)]
    [InlineData("30s", 300_000_000L)]
    [InlineData("1478s", 14_780_000_000L)]
    [InlineData("-5s", -50_000_000L)]
    [InlineData("+5s", 50_000_000L)]
    [InlineData("-0.5s", -5_000_000L)]
    [InlineData("5.0s", 50_000_000L)]
    [InlineData("5.6s", 56_000_000L)]
    [InlineData("5.s", 50_000_000L)]
    [InlineData(".5s", 5_000_000L)]
    [InlineData("1.0s", 10_000_000L)]
    [InlineData("1.00s", 10_000_000L)]
    [InlineData("1.004s", 10_040_000L)]
    [InlineData("100.00100s", 1_000_010_000L)]
    [InlineData("10ns", 0L)]
    [InlineData("1100ns", 11L)]
    [InlineData("11us", 110L)]
    [InlineData("12µs", 120L)]
    [InlineData("12μs", 120L)]
    [InlineData("13ms", 130_000L)]
    [InlineData("500ms", 5_000_000L)]
    [InlineData("14s", 140_000_000L)]
    [InlineData("15m", 9_000_000_000L)]
    [InlineData("16h", 576_000_000_000L)]
    [InlineData("3h30m", 126_000_000_000L)]
    [InlineData("1m30s", 900_000_000L)]
    [InlineData("10.5s4m", 2_505_000_000L)]
    [InlineData("-2m3.4s", -1_234_000_000L)]
    [InlineData("1h2m3s4ms5us6ns", 37_230_040_050L)]
    [InlineData("39h9m14.425s", 1_409_544_250_000L)]
    [InlineData("1.5h", 54_000_000_000L)]
    [InlineData("0.3333333333333333333h", 12_000_000_000L)]
    [InlineData("9223372036854775807ns", 92_233_720_368_547_758L)]
    [InlineData("-9223372036854775808ns", -92_233_720_368_547_758L)]
    [InlineData("9223372036s854ms775us807ns", 92_233_720_368_547_758L)]
    [InlineData("0.100000000000000000000h", 3_600_000_000L)]
    public void TryParse_Valid(string text, long ticks)
    {
        Assert.True(GoDuration.TryParse(text, out var value), text);
        Assert.Equal(TimeSpan.FromTicks(ticks), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("3")]
    [InlineData("10")]
    [InlineData("00")]
    [InlineData("-")]
    [InlineData("s")]
    [InlineData(".")]
    [InlineData("-.")]
    [InlineData(".s")]
    [InlineData("+.s")]
    [InlineData("1d")]
    [InlineData("1S")]
    [InlineData(" 1s")]
    [InlineData("1s ")]
    [InlineData("1 s")]
    [InlineData("10 minutes")]
    [InlineData("1h-30m")]
    [InlineData("9223372036854775808ns")]
    [InlineData("9223372036854775.808us")]
    [InlineData("-9223372036854775809ns")]
    [InlineData("3000000h")]
    public void TryParse_Invalid(string text)
    {
        Assert.False(GoDuration.TryParse(text, out _), text);
    }
}
