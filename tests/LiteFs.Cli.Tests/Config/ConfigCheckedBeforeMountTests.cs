using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

/// <summary>
/// Values the node would otherwise only find wrong once the mount is up (the proxy's address,
/// target and required keys, advertised URLs, exec command lines) are refused when the file is
/// read, each with the line to fix.
/// </summary>
public class ConfigCheckedBeforeMountTests
{
    private static string ValidateError(string yaml)
    {
        var config = ConfigParser.Parse(yaml, "litefs.yml", out var lines);
        return Assert.Throws<ConfigException>(() => config.Validate(lines)).Message;
    }

    [Theory]
    [InlineData("proxy:\n  addr: \"8080\"\n", "litefs.yml:2: proxy.addr: invalid address \"8080\"")]
    [InlineData("proxy:\n  addr: \"localhost\"\n", "litefs.yml:2: proxy.addr: invalid address \"localhost\"")]
    [InlineData("proxy:\n  addr: \":99999\"\n", "litefs.yml:2: proxy.addr: invalid address \":99999\"")]
    [InlineData("proxy:\n  addr: \"my host:80\"\n", "litefs.yml:2: proxy.addr: invalid address \"my host:80\"")]
    [InlineData("proxy:\n  target: \"http://localhost:8081\"\n", "litefs.yml:2: proxy.target: invalid target \"http://localhost:8081\"")]
    [InlineData("proxy:\n  target: \"localhost:8081/app\"\n", "litefs.yml:2: proxy.target: invalid target \"localhost:8081/app\"")]
    [InlineData("proxy:\n  target: \"local host:8081\"\n", "litefs.yml:2: proxy.target: invalid target \"local host:8081\"")]
    [InlineData("proxy:\n  advertise-url: \"10.0.0.1:8080\"\n", "litefs.yml:2: proxy.advertise-url: invalid URL \"10.0.0.1:8080\"")]
    [InlineData("lease:\n  type: static\n  advertise-url: \"ftp://primary\"\n", "litefs.yml:3: lease.advertise-url: invalid URL \"ftp://primary\"")]
    [InlineData("exec: \"sh -c 'unterminated\"\n", "litefs.yml:1: exec: invalid command line string: unterminated ' quote")]
    [InlineData("exec:\n  - cmd: \"migrate\"\n  - cmd: \"serve \\\\\"\n", "litefs.yml:3: exec[1].cmd: invalid command line string: trailing backslash")]
    public void BadValue_IsAParseErrorWithItsLine(string yaml, string message)
    {
        Assert.StartsWith(message, ConfigParserTests.ParseError(yaml), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proxy:\n  addr: \":8080\"\n")]
    [InlineData("proxy:\n  addr: \"127.0.0.1:8080\"\n")]
    [InlineData("proxy:\n  addr: \"[::1]:8080\"\n")]
    [InlineData("proxy:\n  addr: \"localhost:8080\"\n")]
    [InlineData("proxy:\n  target: \"localhost:8081\"\n")]
    [InlineData("proxy:\n  target: \"127.0.0.1:8081\"\n")]
    [InlineData("proxy:\n  target: \"[::1]:8081\"\n")]
    [InlineData("proxy:\n  target: \"app\"\n")]
    [InlineData("proxy:\n  advertise-url: \"http://10.0.0.1:8080\"\n")]
    [InlineData("lease:\n  advertise-url: \"https://primary.internal:20202\"\n")]
    [InlineData("exec: \"sh -c 'echo \\\"hi\\\"'\"\n")]
    public void GoodValue_Parses(string yaml)
    {
        ConfigParserTests.Parse(yaml);
    }

    [Theory]
    [InlineData("lease:\n  type: static\nproxy:\n  addr: \":8080\"\n  target: \"localhost:8081\"\n", "litefs.yml:5: proxy database name required")]
    [InlineData("lease:\n  type: static\nproxy:\n  db: app.db\n  target: \"localhost:8081\"\n", "litefs.yml:5: proxy bind address required")]
    [InlineData("lease:\n  type: zookeeper\n", "litefs.yml:2: invalid lease type, must be 'static', 'consul' or 'etcd', got: 'zookeeper'")]
    [InlineData("lease:\n  candidate: true\n  type: consul\n  databases: [a.db]\n", "litefs.yml:4: cannot specify a database replication filter on candidate nodes")]
    [InlineData("lease:\n  type: static\nlog:\n  format: logfmt\n", "litefs.yml:4: invalid log format: \"logfmt\"")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    key: /k\n", "litefs.yml:3: lease.etcd.endpoints: at least one endpoint is required")]
    [InlineData("lease:\n  type: etcd\n  etcd:\n    endpoints: [\"http://127.0.0.1:2379\"]\n    key: /k\n    password: p\n", "litefs.yml:6: lease.etcd.username and lease.etcd.password")]
    [InlineData("fuse:\n  dir: \"\"\n", "litefs.yml:2: fuse directory required")]
    public void CheckAfterParsing_NamesTheLine(string yaml, string message)
    {
        Assert.StartsWith(message, ValidateError(yaml), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingKey_NamesTheFile()
    {
        // Nothing in the file to point at: the file, and upstream's message.
        Assert.Equal("litefs.yml: invalid lease type, must be 'static', 'consul' or 'etcd', got: ''", ValidateError("data:\n  dir: /d\n"));
    }

    [Fact]
    public void ProxyWithoutTarget_IsNotStarted_SoNeedsNothingElse()
    {
        var config = ConfigParser.Parse("lease:\n  type: static\nproxy:\n  addr: \":8080\"\n", "litefs.yml", out var lines);
        config.Validate(lines);
    }
}
