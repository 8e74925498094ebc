using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

/// <summary>The lease keys: static, consul (upstream's) and etcd (ours); the values checked while parsing (with their line) and the ones checked together.</summary>
public class LeaseConfigTests
{
    private static string ParseError(string yaml) => ConfigParserTests.ParseError(yaml);

    private static string ValidationError(string yaml) =>
        Assert.Throws<ConfigException>(() => ConfigParserTests.Parse(yaml).Validate()).Message;

    [Fact]
    public void Etcd_EveryKey_Parsed()
    {
        var c = ConfigParserTests.Parse("""
            lease:
              type: "etcd"
              candidate: true
              promote: true
              advertise-url: "http://10.0.0.1:20202"
              hostname: "node-a"
              safe-promotion: false
              etcd:
                endpoints: ["http://127.0.0.1:2379", "https://etcd-2:2379"]
                key: "/litefs/my-app/primary"
                ttl: "15s"
                username: "litefs"
                password: "secret"
                ca-file: "/etc/litefs/etcd-ca.pem"
            """);
        c.Validate();
        Assert.Equal(LeaseConfig.EtcdType, c.Lease.Type);
        Assert.True(c.Lease.Promote);
        Assert.False(c.Lease.SafePromotion);
        Assert.Equal("node-a", c.Lease.Hostname);
        Assert.Equal(new[] { "http://127.0.0.1:2379", "https://etcd-2:2379" }, c.Lease.Etcd.Endpoints);
        Assert.Equal("/litefs/my-app/primary", c.Lease.Etcd.Key);
        Assert.Equal(TimeSpan.FromSeconds(15), c.Lease.Etcd.Ttl);
        Assert.Equal("litefs", c.Lease.Etcd.Username);
        Assert.Equal("secret", c.Lease.Etcd.Password);
        Assert.Equal("/etc/litefs/etcd-ca.pem", c.Lease.Etcd.CaFile);
    }

    [Fact]
    public void Defaults_SafePromotionOn_EtcdTtlTenSeconds()
    {
        var c = new LiteFsConfig();
        Assert.True(c.Lease.SafePromotion);
        Assert.Equal(TimeSpan.FromSeconds(10), c.Lease.Etcd.Ttl);
        Assert.Empty(c.Lease.Etcd.Endpoints);
        Assert.Equal("", c.Lease.Etcd.Key);
    }

    [Theory]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    key: /k\n", "lease.etcd.endpoints: at least one endpoint is required for lease type 'etcd', e.g. [\"http://127.0.0.1:2379\"]")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    endpoints: []\n    key: /k\n", "lease.etcd.endpoints: at least one endpoint is required for lease type 'etcd', e.g. [\"http://127.0.0.1:2379\"]")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    endpoints: [http://e:2379]\n", "lease.etcd.key: required for lease type 'etcd', e.g. \"/litefs/my-app/primary\"")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    endpoints: [http://e:2379]\n    key: /k\n    username: u\n", "lease.etcd.username and lease.etcd.password: set both (etcd authentication) or neither")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    endpoints: [http://e:2379]\n    key: /k\n    password: p\n", "lease.etcd.username and lease.etcd.password: set both (etcd authentication) or neither")]
    [InlineData("lease:\n  type: consul\n  consul:\n    key: k\n", "lease.consul.url: required for lease type 'consul', e.g. \"http://consul:8500\"")]
    [InlineData("lease:\n  type: consul\n  consul:\n    url: http://consul:8500\n", "must specify a consul key (lease.consul.key), e.g. \"litefs/primary\"")]
    public void MissingKeyForTheType_NamedInTheMessage(string yaml, string message)
    {
        Assert.Equal(message, ValidationError(yaml));
    }

    [Fact]
    public void EtcdKeys_IgnoredForAnotherType()
    {
        // Only the chosen type's settings must be complete.
        ConfigParserTests.Parse("lease:\n  type: static\n  etcd:\n    username: u\n").Validate();
    }

    [Theory]
    [InlineData("lease:\n  etcd:\n    ttl: 500ms\n", "litefs.yml:3: lease.etcd.ttl: 500ms is below the minimum of 1s (a lease that short is lost to one slow request)")]
    [InlineData("lease:\n  etcd:\n    ttl: 0s\n", "litefs.yml:3: lease.etcd.ttl: 0s is below the minimum of 1s (a lease that short is lost to one slow request)")]
    [InlineData("lease:\n  etcd:\n    ttl: 2500ms\n", "litefs.yml:3: lease.etcd.ttl: 2.5s is not a whole number of seconds (etcd leases last whole seconds)")]
    [InlineData("lease:\n  consul:\n    ttl: 100ms\n", "litefs.yml:3: lease.consul.ttl: 100ms is below the minimum of 1s (a lease that short is lost to one slow request)")]
    [InlineData("lease:\n  etcd:\n    endpoints:\n      - http://ok:2379\n      - 127.0.0.1:2379\n", "litefs.yml:5: lease.etcd.endpoints[1]: invalid URL \"127.0.0.1:2379\" (want http:// or https:// and a host, e.g. \"http://127.0.0.1:2379\")")]
    [InlineData("lease:\n  etcd:\n    endpoints: [\"unix:///run/etcd.sock\"]\n", "litefs.yml:3: lease.etcd.endpoints[0]: invalid URL \"unix:///run/etcd.sock\" (want http:// or https:// and a host, e.g. \"http://127.0.0.1:2379\")")]
    [InlineData("lease:\n  consul:\n    url: consul:8500\n", "litefs.yml:3: lease.consul.url: invalid URL \"consul:8500\" (want http:// or https:// and a host, e.g. \"http://consul:8500\")")]
    [InlineData("lease:\n  etcd:\n    endpoints: http://e:2379\n", "litefs.yml:3: lease.etcd.endpoints: expected a list of strings, got the string \"http://e:2379\"")]
    [InlineData("lease:\n  safe-promotion: sometimes\n", "litefs.yml:2: lease.safe-promotion: invalid boolean \"sometimes\" (want true or false; yes/no and on/off are also accepted)")]
    public void BadValue_ReportedWithItsLine(string yaml, string message)
    {
        Assert.Equal(message, ParseError(yaml));
    }

    [Theory]
    [InlineData("0s")]
    [InlineData("-1s")]
    public void ConsulTtl_ZeroOrLess_KeepsUpstreamsDefault(string ttl)
    {
        var c = ConfigParserTests.Parse($"lease:\n  consul:\n    ttl: \"{ttl}\"\n");
        Assert.True(c.Lease.Consul.Ttl <= TimeSpan.Zero);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(500, "500ms")]
    [InlineData(1_000, "1s")]
    [InlineData(2_500, "2.5s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h0m0s")]
    public void GoDuration_Format_AsGoPrintsIt(int ms, string text)
    {
        Assert.Equal(text, GoDuration.Format(TimeSpan.FromMilliseconds(ms)));
    }
}
