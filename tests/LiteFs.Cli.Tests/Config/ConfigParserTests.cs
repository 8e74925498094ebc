using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

public class ConfigParserTests
{
    internal static LiteFsConfig Parse(string yaml) => ConfigParser.Parse(yaml, "litefs.yml");

    internal static string ParseError(string yaml) => Assert.Throws<ConfigException>(() => Parse(yaml)).Message;

    [Theory]
    [InlineData("http:\n  addr: \"127.0.0.1:99999\"\n", "litefs.yml:2: invalid http.addr \"127.0.0.1:99999\": port \"99999\" is not a number from 0 to 65535")]
    [InlineData("lease:\n  type: \"static\"\nhttp:\n  addr: \"localhost\"\n", "litefs.yml:4: invalid http.addr \"localhost\": missing port")]
    [InlineData("http:\n  addr: \"::1:20202\"\n", "litefs.yml:2: invalid http.addr \"::1:20202\": an IPv6 address must be in brackets")]
    public void BadHttpAddr_IsReportedWithItsLine(string yaml, string message) =>
        Assert.StartsWith(message, ParseError(yaml), StringComparison.Ordinal);

    [Theory]
    [InlineData("fuse:\n  dir: \"/litefs\"\ndata:\n\tdir: \"/data\"\n", 4)]
    [InlineData("lease:\n  type: \"static\"\n  candidate: true\n\t advertise-url: \"http://x\"\n", 4)]
    public void TabIndentation_IsReportedOnItsLine(string yaml, int line) =>
        Assert.StartsWith($"litefs.yml:{line}: invalid YAML:", ParseError(yaml), StringComparison.Ordinal);

    [Fact]
    public void Defaults_MatchUpstream()
    {
        var c = new LiteFsConfig();
        Assert.True(c.ExitOnError);
        Assert.False(c.SkipSync);
        Assert.False(c.StrictVerify);
        Assert.Empty(c.Exec);

        Assert.Equal("/var/lib/litefs", c.Data.Dir);
        Assert.True(c.Data.Compress);
        Assert.Equal(TimeSpan.FromMinutes(10), c.Data.Retention);
        Assert.Equal(TimeSpan.FromMinutes(1), c.Data.RetentionMonitorInterval);

        Assert.Equal("/litefs", c.Fuse.Dir);
        Assert.False(c.Fuse.AllowOther);
        Assert.False(c.Fuse.Debug);

        Assert.Equal(":20202", c.Http.Addr);
        Assert.Equal(TimeSpan.Zero, c.Http.SnapshotTimeout);

        Assert.Equal("", c.Proxy.Addr);
        Assert.Equal("", c.Proxy.Target);
        Assert.Equal("", c.Proxy.Db);
        Assert.Equal(TimeSpan.FromSeconds(10), c.Proxy.MaxLag);
        Assert.False(c.Proxy.Debug);
        Assert.Empty(c.Proxy.Passthrough);
        Assert.Empty(c.Proxy.AlwaysForward);
        Assert.Equal(TimeSpan.FromSeconds(5), c.Proxy.PrimaryRedirectTimeout);
        Assert.Equal(TimeSpan.Zero, c.Proxy.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), c.Proxy.ReadHeaderTimeout);
        Assert.Equal(TimeSpan.Zero, c.Proxy.WriteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Proxy.IdleTimeout);

        Assert.Equal("", c.Lease.Type);
        Assert.Equal("", c.Lease.Hostname);
        Assert.Equal("", c.Lease.AdvertiseUrl);
        Assert.True(c.Lease.Candidate);
        Assert.False(c.Lease.Promote);
        Assert.Equal(TimeSpan.FromSeconds(1), c.Lease.ReconnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), c.Lease.DemoteDelay);
        Assert.Empty(c.Lease.Databases);
        Assert.Equal("", c.Lease.Consul.Url);
        Assert.Equal("", c.Lease.Consul.Key);
        Assert.Equal(TimeSpan.FromSeconds(10), c.Lease.Consul.Ttl);
        Assert.Equal(TimeSpan.FromSeconds(1), c.Lease.Consul.LockDelay);

        Assert.Equal(new BackupConfig { Type = "", Path = "", Url = "", Cluster = "", AuthToken = "" }, c.Backup);

        Assert.Equal("text", c.Log.Format);
        Assert.False(c.Log.Timestamp);
        Assert.False(c.Log.Debug);

        Assert.True(c.Tracing.Enabled);
        Assert.Equal("", c.Tracing.Path);
        Assert.Equal(64, c.Tracing.MaxSize);
        Assert.Equal(8, c.Tracing.MaxCount);
        Assert.True(c.Tracing.Compress);
    }

    [Theory]
    [InlineData("lease:\n  type: static\n")]
    [InlineData("---\n")]
    [InlineData("~\n")]
    [InlineData("data:\nfuse: ~\nhttp: null\nlease:\n  candidate:\n  consul:\n")]
    public void AbsentOrNullKeys_KeepDefaults(string yaml)
    {
        var c = Parse(yaml);
        Assert.Equal(new LiteFsConfig().Data, c.Data);
        Assert.Equal(new LiteFsConfig().Fuse, c.Fuse);
        Assert.Equal(new LiteFsConfig().Http, c.Http);
        Assert.True(c.Lease.Candidate);
        Assert.Equal(new LiteFsConfig().Lease.Consul, c.Lease.Consul);
        Assert.Equal(new LiteFsConfig().Tracing, c.Tracing);
    }

    [Fact]
    public void EveryKey_IsParsed()
    {
        const string Yaml = """
            exit-on-error: false
            skip-sync: true
            strict-verify: true
            exec: "myapp -addr :8081"
            data:
              dir: /data
              compress: false
              retention: 1h30m
              retention-monitor-interval: 500ms
            fuse:
              dir: /mnt/litefs
              allow-other: true
              debug: true
            http:
              addr: ":30303"
              snapshot-timeout: 1.5h
            proxy:
              addr: ":8080"
              target: "localhost:8081"
              db: my.db
              max-lag: 2s
              debug: true
              passthrough: ["/debug/*", "*.png"]
              always-forward:
                - /api/poll
              primary-redirect-timeout: 3s
              read-timeout: 4s
              read-header-timeout: 6s
              write-timeout: 7s
              idle-timeout: 8s
            lease:
              type: consul
              hostname: node1
              advertise-url: "http://node1:20202"
              candidate: false
              promote: true
              reconnect-delay: 2s
              demote-delay: 20s
              databases: [a.db, b.db]
              consul:
                url: "http://consul:8500"
                key: litefs/primary
                ttl: 15s
                lock-delay: 2s
            backup:
              type: litefs-cloud
              path: /backup
              url: https://example.test
              cluster: c1
              auth-token: "FlyV1 abc"
            log:
              format: json
              timestamp: true
              debug: true
            tracing:
              enabled: false
              path: /var/log/trace.log
              max-size: 128
              max-count: 3
              compress: false
            """;
        var c = Parse(Yaml);
        Assert.False(c.ExitOnError);
        Assert.True(c.SkipSync);
        Assert.True(c.StrictVerify);
        Assert.Equal([new ExecConfig("myapp -addr :8081")], c.Exec);
        Assert.Equal(new DataConfig { Dir = "/data", Compress = false, Retention = TimeSpan.FromMinutes(90), RetentionMonitorInterval = TimeSpan.FromMilliseconds(500) }, c.Data);
        Assert.Equal(new FuseConfig { Dir = "/mnt/litefs", AllowOther = true, Debug = true }, c.Fuse);
        Assert.Equal(new HttpConfig { Addr = ":30303", SnapshotTimeout = TimeSpan.FromMinutes(90) }, c.Http);

        Assert.Equal(":8080", c.Proxy.Addr);
        Assert.Equal("localhost:8081", c.Proxy.Target);
        Assert.Equal("my.db", c.Proxy.Db);
        Assert.Equal(TimeSpan.FromSeconds(2), c.Proxy.MaxLag);
        Assert.True(c.Proxy.Debug);
        Assert.Equal(["/debug/*", "*.png"], c.Proxy.Passthrough);
        Assert.Equal(["/api/poll"], c.Proxy.AlwaysForward);
        Assert.Equal(TimeSpan.FromSeconds(3), c.Proxy.PrimaryRedirectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(4), c.Proxy.ReadTimeout);
        Assert.Equal(TimeSpan.FromSeconds(6), c.Proxy.ReadHeaderTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), c.Proxy.WriteTimeout);
        Assert.Equal(TimeSpan.FromSeconds(8), c.Proxy.IdleTimeout);

        Assert.Equal("consul", c.Lease.Type);
        Assert.Equal("node1", c.Lease.Hostname);
        Assert.Equal("http://node1:20202", c.Lease.AdvertiseUrl);
        Assert.False(c.Lease.Candidate);
        Assert.True(c.Lease.Promote);
        Assert.Equal(TimeSpan.FromSeconds(2), c.Lease.ReconnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(20), c.Lease.DemoteDelay);
        Assert.Equal(["a.db", "b.db"], c.Lease.Databases);
        Assert.Equal(new ConsulConfig { Url = "http://consul:8500", Key = "litefs/primary", Ttl = TimeSpan.FromSeconds(15), LockDelay = TimeSpan.FromSeconds(2) }, c.Lease.Consul);

        Assert.Equal(new BackupConfig { Type = "litefs-cloud", Path = "/backup", Url = "https://example.test", Cluster = "c1", AuthToken = "FlyV1 abc" }, c.Backup);
        Assert.Equal(new LogConfig { Format = "json", Timestamp = true, Debug = true }, c.Log);
        Assert.Equal(new TracingConfig { Enabled = false, Path = "/var/log/trace.log", MaxSize = 128, MaxCount = 3, Compress = false }, c.Tracing);
    }

    [Fact]
    public void Exec_String_IsOneCommand()
    {
        Assert.Equal([new ExecConfig("myapp serve")], Parse("exec: myapp serve\n").Exec);
        Assert.Equal([new ExecConfig("")], Parse("exec: \"\"\n").Exec);
        Assert.Equal([new ExecConfig("10")], Parse("exec: !!str 10\n").Exec);
    }

    [Fact]
    public void Exec_List_KeepsOrderAndIfCandidate()
    {
        var exec = Parse("""
            exec:
              - cmd: "myapp migrate"
                if-candidate: true
              - cmd: "myapp serve"
            """).Exec;
        Assert.Equal([new ExecConfig("myapp migrate", IfCandidate: true), new ExecConfig("myapp serve")], exec);
    }

    [Theory]
    [InlineData("exec: 42\n", 1)]
    [InlineData("exec: true\n", 1)]
    [InlineData("exec: 1.5\n", 1)]
    [InlineData("exec:\n  cmd: myapp\n", 2)]
    [InlineData("exec: !custom myapp\n", 1)]
    public void Exec_OtherNodeTypes_AreInvalidFormat(string yaml, int line)
    {
        Assert.StartsWith($"litefs.yml:{line}: invalid exec config format (", ParseError(yaml), StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_Null_MeansNoCommand()
    {
        Assert.Empty(Parse("exec:\n").Exec);
        Assert.Empty(Parse("exec: ~\n").Exec);
    }

    [Fact]
    public void Exec_BadEntries_AreErrorsWithTheirIndex()
    {
        var message = ParseError("""
            exec:
              - cmd: a
              - "just a string"
              - cmd: b
                if-candidat: true
            """);
        Assert.Equal(
            "litefs.yml:3: exec[1]: expected a mapping with \"cmd\" and optional \"if-candidate\", got the string \"just a string\"\n" +
            "litefs.yml:5: unknown key \"exec[2].if-candidat\"",
            message);
    }

    // The two upstream fixtures, cmd/litefs/testdata/config/{single,multi}_exec.yml, as the spec
    // describes them (testdata/upstream-tests/README.md, "Config fixtures").
    [Fact]
    public void UpstreamFixture_SingleExec()
    {
        var exec = Parse("""
            exec:
              - cmd: "run me"
            """).Exec;
        var entry = Assert.Single(exec);
        Assert.Equal("run me", entry.Cmd);
        Assert.False(entry.IfCandidate);
    }

    [Fact]
    public void UpstreamFixture_MultiExec()
    {
        var exec = Parse("""
            exec:
              - cmd: "run me"
                if-candidate: true
              - cmd: "run me too"
            """).Exec;
        Assert.Equal(2, exec.Count);
        Assert.Equal("run me", exec[0].Cmd);
        Assert.True(exec[0].IfCandidate);
        Assert.Equal("run me too", exec[1].Cmd);
        Assert.False(exec[1].IfCandidate);
    }

    [Theory]
    [InlineData("exit-on-errors: true\n", 1, "exit-on-errors")]
    [InlineData("data:\n  dir: /d\n  retension: 1m\n", 3, "data.retension")]
    [InlineData("fuse:\n  allow_other: true\n", 2, "fuse.allow_other")]
    [InlineData("http:\n  port: 1\n", 2, "http.port")]
    [InlineData("proxy:\n  addr: \":8080\"\n  timeout: 1s\n", 3, "proxy.timeout")]
    [InlineData("lease:\n  type: static\n\n\n\n\n  candidat: true\n", 7, "lease.candidat")]
    [InlineData("lease:\n  consul:\n    url: http://consul:8500\n    session-ttl: 10s\n", 4, "lease.consul.session-ttl")]
    [InlineData("lease:\n  etcd:\n    endpoint: http://127.0.0.1:2379\n", 3, "lease.etcd.endpoint")]
    [InlineData("lease:\n  zookeeper:\n    hosts: [x]\n", 2, "lease.zookeeper")]
    [InlineData("backup:\n  bucket: x\n", 2, "backup.bucket")]
    [InlineData("log:\n  level: debug\n", 2, "log.level")]
    [InlineData("tracing:\n  max-age: 3\n", 2, "tracing.max-age")]
    [InlineData("exec:\n  - cmd: x\n    env: y\n", 3, "exec[0].env")]
    [InlineData("Data:\n  dir: /d\n", 1, "Data")]
    public void UnknownKey_IsErrorWithPathAndLine(string yaml, int line, string path)
    {
        Assert.Equal($"litefs.yml:{line}: unknown key \"{path}\"", ParseError(yaml));
    }

    [Fact]
    public void SeveralErrors_AreAllReported()
    {
        var message = ParseError("""
            data:
              retention: 10 minutes
            lease:
              candidate: maybe
            bogus: 1
            """);
        Assert.Equal(
            "litefs.yml:2: data.retention: invalid duration \"10 minutes\" (want Go duration syntax such as \"10m\" or \"1h30m\")\n" +
            "litefs.yml:4: lease.candidate: invalid boolean \"maybe\" (want true or false; yes/no and on/off are also accepted)\n" +
            "litefs.yml:5: unknown key \"bogus\"",
            message);
    }

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("\"1m30s\"", 90_000)]
    [InlineData("'500ms'", 500)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("\"0\"", 0)]
    [InlineData("0s", 0)]
    [InlineData("-2s", -2_000)]
    [InlineData("!!str 3s", 3_000)]
    public void Duration_GoSyntax_IsParsed(string value, long milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Parse($"data:\n  retention: {value}\n").Data.Retention);
    }

    [Theory]
    [InlineData("10 minutes", "invalid duration \"10 minutes\" (want Go duration syntax such as \"10m\" or \"1h30m\")")]
    [InlineData("\"10\"", "invalid duration \"10\" (want Go duration syntax such as \"10m\" or \"1h30m\")")]
    [InlineData("1d", "invalid duration \"1d\" (want Go duration syntax such as \"10m\" or \"1h30m\")")]
    [InlineData("true", "invalid duration \"true\" (want Go duration syntax such as \"10m\" or \"1h30m\")")]
    [InlineData("600", "invalid duration 600 (a bare number is not a duration; give a unit, as in \"600s\" or \"600ms\")")]
    [InlineData("0", "invalid duration 0 (a bare number is not a duration; give a unit, as in \"0s\" or \"0ms\")")]
    [InlineData("1.5", "invalid duration 1.5 (a bare number is not a duration; give a unit, as in \"1.5s\" or \"1.5ms\")")]
    [InlineData("[1s]", "expected a duration such as \"10s\", got a list")]
    public void Duration_Bad_IsErrorWithKeyAndLine(string value, string problem)
    {
        Assert.Equal($"litefs.yml:3: data.retention: {problem}", ParseError($"data:\n  dir: /d\n  retention: {value}\n"));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData("TRUE", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("FALSE", false)]
    [InlineData("yes", true)]
    [InlineData("Yes", true)]
    [InlineData("YES", true)]
    [InlineData("y", true)]
    [InlineData("Y", true)]
    [InlineData("on", true)]
    [InlineData("On", true)]
    [InlineData("ON", true)]
    [InlineData("no", false)]
    [InlineData("No", false)]
    [InlineData("NO", false)]
    [InlineData("n", false)]
    [InlineData("N", false)]
    [InlineData("off", false)]
    [InlineData("Off", false)]
    [InlineData("OFF", false)]
    [InlineData("\"yes\"", true)]
    [InlineData("'off'", false)]
    public void Bool_Yaml11Forms_AreAccepted(string value, bool expected)
    {
        Assert.Equal(expected, Parse($"fuse:\n  debug: {value}\n").Fuse.Debug);
        Assert.Equal(expected, Parse($"lease:\n  candidate: {value}\n").Lease.Candidate);
    }

    [Theory]
    [InlineData("maybe", "invalid boolean \"maybe\" (want true or false; yes/no and on/off are also accepted)")]
    [InlineData("1", "invalid boolean \"1\" (want true or false; yes/no and on/off are also accepted)")]
    [InlineData("yEs", "invalid boolean \"yEs\" (want true or false; yes/no and on/off are also accepted)")]
    [InlineData("\"true\"", "invalid boolean \"true\" (a quoted value is a string, not a boolean; remove the quotes)")]
    [InlineData("{a: 1}", "expected a boolean (true or false), got a mapping")]
    public void Bool_Bad_IsErrorWithKeyAndLine(string value, string problem)
    {
        Assert.Equal($"litefs.yml:2: fuse.allow-other: {problem}", ParseError($"fuse:\n  allow-other: {value}\n"));
    }

    [Theory]
    [InlineData("256", 256)]
    [InlineData("0x10", 16)]
    [InlineData("0o17", 15)]
    [InlineData("1_000", 1000)]
    [InlineData("-1", -1)]
    [InlineData("2.9", 2)]
    public void Int_YamlForms_AreAccepted(string value, int expected)
    {
        Assert.Equal(expected, Parse($"tracing:\n  max-size: {value}\n").Tracing.MaxSize);
    }

    [Theory]
    [InlineData("big")]
    [InlineData("\"64\"")]
    [InlineData("99999999999")]
    public void Int_Bad_IsError(string value)
    {
        Assert.StartsWith("litefs.yml:2: tracing.max-count: invalid integer ", ParseError($"tracing:\n  max-count: {value}\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void StringFields_TakeAnyScalarText()
    {
        var c = Parse("fuse:\n  dir: 8080\nlease:\n  hostname: true\n  advertise-url: 'http://h:1'\n");
        Assert.Equal("8080", c.Fuse.Dir);
        Assert.Equal("true", c.Lease.Hostname);
        Assert.Equal("http://h:1", c.Lease.AdvertiseUrl);
    }

    [Fact]
    public void WrongShapes_AreErrors()
    {
        Assert.Equal("litefs.yml:1: data: expected a mapping of keys, got the string \"/var/lib/litefs\"", ParseError("data: /var/lib/litefs\n"));
        Assert.Equal("litefs.yml:2: lease.type: expected a string, got a list", ParseError("lease:\n  type: [static]\n"));
        Assert.Equal("litefs.yml:2: lease.databases: expected a list of strings, got the string \"a.db\"", ParseError("lease:\n  databases: a.db\n"));
        Assert.Equal("litefs.yml:2: proxy.passthrough[1]: expected a string, got a mapping", ParseError("proxy:\n  passthrough: [a, {b: c}]\n"));
        Assert.Equal("litefs.yml:1: the top level of the file: expected a mapping of keys, got the string \"hello\"", ParseError("hello\n"));
    }

    [Fact]
    public void EmptyFile_IsEofError()
    {
        Assert.StartsWith("litefs.yml: EOF", ParseError(""), StringComparison.Ordinal);
        Assert.StartsWith("litefs.yml: EOF", ParseError("# nothing but a comment\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidYaml_NamesTheLine()
    {
        Assert.StartsWith("litefs.yml:3: invalid YAML: ", ParseError("lease:\n  type: static\n  hostname: a: b\n"), StringComparison.Ordinal);
        Assert.Equal(
            "litefs.yml:3: invalid YAML: duplicate key \"type\" (a key may appear only once in a mapping)",
            ParseError("lease:\n  type: static\n  type: consul\n"));
    }

    [Fact]
    public void AnchorsAndMergeKeys_WorkAsInGoYaml()
    {
        var c = Parse("""
            proxy:
              passthrough: &paths ["/a", "/b"]
              always-forward: *paths
            lease:
              consul: &base
                url: http://consul:8500
                key: litefs/primary
              <<: {type: consul, candidate: false}
              candidate: true
            """);
        Assert.Equal(["/a", "/b"], c.Proxy.AlwaysForward);
        Assert.Equal("consul", c.Lease.Type);
        Assert.True(c.Lease.Candidate);
        Assert.Equal("litefs/primary", c.Lease.Consul.Key);
    }

    [Fact]
    public void OnlyTheFirstDocument_Counts()
    {
        Assert.Equal("static", Parse("lease:\n  type: static\n---\nlease:\n  type: consul\n").Lease.Type);
    }
}
