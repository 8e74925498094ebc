namespace LiteFs.Ltx.Tests;

public class TxIdTests
{
    [Fact]
    public void Value_RoundTrips() => Assert.Equal(5ul, new TxId(5).Value);
}
