namespace LiteFs.Proxy.Tests;

public class ProxyOptionsTests
{
    private static readonly ProxyOptions Valid = new() { Address = ":8080", Target = "localhost:8081", Db = "app.db" };

    [Fact]
    public void Defaults_AreUpstreams()
    {
        var o = new ProxyOptions();
        Assert.Equal(TimeSpan.FromSeconds(10), o.MaxLag);
        Assert.Equal(TimeSpan.FromSeconds(5), o.PrimaryRedirectTimeout);
        Assert.Equal(TimeSpan.Zero, o.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), o.ReadHeaderTimeout);
        Assert.Equal(TimeSpan.Zero, o.WriteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), o.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), o.DialTimeout);
        Assert.False(o.Debug);
        Assert.Empty(o.Passthrough);
        Assert.Empty(o.AlwaysForward);
        Assert.Equal(TimeSpan.FromMinutes(5), ProxyOptions.CookieLifetime);
        Assert.Equal(TimeSpan.FromSeconds(5), ProxyOptions.TxIdTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1), ProxyOptions.TxIdPollInterval);
        Valid.Validate();
    }

    [Fact]
    public void Validate_MissingValues_UpstreamMessagesInUpstreamOrder()
    {
        Assert.Equal("proxy target required", Assert.Throws<ProxyConfigurationException>(() => new ProxyOptions().Validate()).Message);
        Assert.Equal("proxy database name required", Assert.Throws<ProxyConfigurationException>(() => (Valid with { Db = "" }).Validate()).Message);
        Assert.Equal("proxy bind address required", Assert.Throws<ProxyConfigurationException>(() => (Valid with { Address = "" }).Validate()).Message);
        Assert.Equal("cannot parse proxy passthrough expression: \"\"", Assert.Throws<ProxyConfigurationException>(() => (Valid with { Passthrough = [null!] }).Validate()).Message);
        Assert.StartsWith("cannot parse proxy always-forward expression", Assert.Throws<ProxyConfigurationException>(() => (Valid with { AlwaysForward = ["/ok", null!] }).Validate()).Message, StringComparison.Ordinal);
        Assert.StartsWith("invalid proxy advertise URL", Assert.Throws<ProxyConfigurationException>(() => (Valid with { AdvertiseUrl = "primary:8080" }).Validate()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://primary:20202", ":8080", "http://primary:8080")]
    [InlineData("http://10.0.0.1:20202", "0.0.0.0:8080", "http://10.0.0.1:8080")]
    [InlineData("http://[fd00::1]:20202", ":8080", "http://[fd00::1]:8080")]
    [InlineData("", ":8080", null)]
    [InlineData("http://primary:20202", "8080", null)]
    [InlineData("not a url", ":8080", null)]
    public void DeriveAdvertiseUrl_LeaseHostProxyPort(string lease, string address, string? expected)
    {
        Assert.Equal(expected, ProxyOptions.DeriveAdvertiseUrl(lease, address));
    }
}
