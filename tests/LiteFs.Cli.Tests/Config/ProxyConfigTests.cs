using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

public class ProxyConfigTests
{
    private const string Base = "lease:\n  type: static\n";

    [Fact]
    public void ProxyKeys_UpstreamsAndAdded_Parsed()
    {
        var c = ConfigParserTests.Parse(Base + """
            proxy:
              addr: ":8080"
              target: "localhost:8081"
              db: "my.db"
              max-lag: "0s"
              debug: true
              passthrough: ["/static/*", "*.png"]
              always-forward: ["/session/*"]
              primary-redirect-timeout: "2s"
              read-timeout: "1m"
              read-header-timeout: "3s"
              write-timeout: "4s"
              idle-timeout: "5s"
              forward-mode: "fly-replay"
              advertise-url: "http://primary:8080"
              read-upgrades: ["/live/*"]
              dial-timeout: "7s"
            """);
        var p = c.Proxy;
        Assert.Equal((":8080", "localhost:8081", "my.db"), (p.Addr, p.Target, p.Db));
        Assert.Equal(TimeSpan.Zero, p.MaxLag);
        Assert.True(p.Debug);
        Assert.Equal(["/static/*", "*.png"], p.Passthrough);
        Assert.Equal(["/session/*"], p.AlwaysForward);
        Assert.Equal(TimeSpan.FromSeconds(2), p.PrimaryRedirectTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), p.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), p.ReadHeaderTimeout);
        Assert.Equal(TimeSpan.FromSeconds(4), p.WriteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), p.IdleTimeout);
        Assert.Equal("fly-replay", p.ForwardMode);
        Assert.Equal("http://primary:8080", p.AdvertiseUrl);
        Assert.Equal(["/live/*"], p.ReadUpgrades);
        Assert.Equal(TimeSpan.FromSeconds(7), p.DialTimeout);
        c.Validate();
    }

    [Fact]
    public void ProxyKeys_AddedDefaults()
    {
        var p = new LiteFsConfig().Proxy;
        Assert.Equal("", p.ForwardMode);
        Assert.Equal("", p.AdvertiseUrl);
        Assert.Empty(p.ReadUpgrades);
        Assert.Equal(TimeSpan.FromSeconds(30), p.DialTimeout);
    }

    [Fact]
    public void ForwardMode_Unknown_ValidationError()
    {
        var c = ConfigParserTests.Parse(Base + "proxy:\n  forward-mode: replay\n");
        Assert.Equal("invalid proxy forward mode, must be either 'proxy' or 'fly-replay', got: 'replay'", Assert.Throws<ConfigException>(c.Validate).Message);
    }

    [Fact]
    public void ProxyKey_Unknown_ParseError()
    {
        Assert.Contains("unknown key \"proxy.targt\"", ConfigParserTests.ParseError(Base + "proxy:\n  targt: x\n"), StringComparison.Ordinal);
    }
}
