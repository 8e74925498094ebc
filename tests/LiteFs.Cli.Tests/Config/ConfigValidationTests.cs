using LiteFs.Cli.Config;
using LiteFs.TestKit;

namespace LiteFs.Cli.Tests.Config;

public class ConfigValidationTests
{
    private static string Error(string yaml) =>
        Assert.Throws<ConfigException>(() => ConfigParserTests.Parse(yaml).Validate()).Message;

    [Theory]
    [InlineData("lease:\n  type: static\n")]
    [InlineData("lease:\n  type: consul\n  candidate: false\n  databases: [a.db]\n  consul:\n    url: http://consul:8500\n    key: litefs/primary\n")]
    [InlineData("lease:\n  type: static\nlog:\n  format: json\n")]
    public void Validate_GoodConfig_Passes(string yaml)
    {
        ConfigParserTests.Parse(yaml).Validate();
    }

    [Theory]
    [InlineData("lease:\n  type: static\nfuse:\n  dir: \"\"\n", "fuse directory required")]
    [InlineData("lease:\n  type: static\ndata:\n  dir: ''\n", "data directory required")]
    [InlineData("lease:\n  type: static\ndata:\n  dir: /x\nfuse:\n  dir: /x\n", "fuse directory and data directory cannot be the same path")]
    [InlineData("lease:\n  type: static\ndata:\n  dir: /x/\nfuse:\n  dir: /x\n", "fuse directory and data directory cannot be the same path")]
    [InlineData("data:\n  dir: /d\n", "invalid lease type, must be 'static', 'consul' or 'etcd', got: ''")]
    [InlineData("lease:\n  type: zookeeper\n", "invalid lease type, must be 'static', 'consul' or 'etcd', got: 'zookeeper'")]
    [InlineData("lease:\n  type: Static\n", "invalid lease type, must be 'static', 'consul' or 'etcd', got: 'Static'")]
    [InlineData("lease:\n  type: consul\n  databases: [a.db]\n", "cannot specify a database replication filter on candidate nodes")]
    [InlineData("lease:\n  type: static\nlog:\n  format: logfmt\n", "invalid log format: \"logfmt\"")]
    public void Validate_BadConfig_FailsWithUpstreamMessage(string yaml, string message)
    {
        Assert.Equal(message, Error(yaml));
    }

    [Fact]
    public void Validate_ChecksInUpstreamOrder()
    {
        // Both the directories and the lease type are wrong: the directories are reported first.
        Assert.Equal("fuse directory and data directory cannot be the same path", Error("data:\n  dir: /x\nfuse:\n  dir: /x\n"));
    }

    [Fact]
    public void Default_IsAValidStaticPrimaryUnderTheRoot()
    {
        using var root = new TempDir("litefs-default");
        var c = LiteFsConfig.Default(root.Path);
        c.Validate();
        Assert.Equal(root.Combine("data"), c.Data.Dir);
        Assert.Equal(root.Combine("mnt"), c.Fuse.Dir);
        Assert.Equal("127.0.0.1:20202", c.Http.Addr);
        Assert.Equal("static", c.Lease.Type);
        Assert.True(c.Lease.Candidate);
        Assert.Equal("http://127.0.0.1:20202", c.Lease.AdvertiseUrl);
        Assert.True(c.ExitOnError);
        Assert.Empty(c.Exec);
        Assert.Equal(new LiteFsConfig().Proxy, c.Proxy);
    }

    [Fact]
    public void Default_RelativeRoot_IsMadeAbsolute()
    {
        var c = LiteFsConfig.Default("relative-root");
        Assert.True(Path.IsPathRooted(c.Data.Dir));
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "relative-root", "data"), c.Data.Dir);
    }
}
