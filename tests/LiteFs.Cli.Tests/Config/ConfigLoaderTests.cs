using System.Text;
using LiteFs.Cli.Config;
using LiteFs.TestKit;

namespace LiteFs.Cli.Tests.Config;

public sealed class ConfigLoaderTests : IDisposable
{
    private const string StaticPrimary = "lease:\n  type: static\n";
    private static readonly Func<string, string?> NoEnv = _ => null;

    private readonly TempDir _dir = new("litefs-config");

    public void Dispose() => _dir.Dispose();

    private string Write(string relative, string text)
    {
        var path = _dir.Combine(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private string[] SearchList() =>
        [_dir.Combine("cwd", "litefs.yml"), _dir.Combine("home", "litefs.yml"), _dir.Combine("etc", "litefs.yml")];

    [Fact]
    public void DocumentedExample_LoadsAndValidates()
    {
        // docs/litefs.example.yml is what docs/Dockerfile copies to /etc/litefs.yml.
        var loaded = ConfigLoader.Load(Path.Combine(RepoPaths.Root, "docs", "litefs.example.yml"), expandEnv: true, NoEnv);
        loaded.Config.Validate();
        Assert.Equal("/litefs", loaded.Config.Fuse.Dir);
        Assert.Equal("/var/lib/litefs", loaded.Config.Data.Dir);
        Assert.True(loaded.Config.Lease.Candidate);
        Assert.Equal("http://primary:20202", loaded.Config.Lease.AdvertiseUrl);
    }

    [Fact]
    public void DefaultSearchPaths_AreWorkingDirectoryHomeThenEtc()
    {
        var paths = ConfigLoader.DefaultSearchPaths();
        Assert.Equal("litefs.yml", paths[0]);
        Assert.Equal("/etc/litefs.yml", paths[^1]);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home))
        {
            Assert.Equal([Path.Combine(home, "litefs.yml")], paths.Skip(1).SkipLast(1));
        }
    }

    [Fact]
    public void Search_FirstExistingFileWins()
    {
        Write("home/litefs.yml", "lease:\n  type: consul\n");
        Write("etc/litefs.yml", StaticPrimary);
        var loaded = ConfigLoader.Load(null, expandEnv: true, NoEnv, SearchList());
        Assert.Equal(_dir.Combine("home", "litefs.yml"), loaded.Path);
        Assert.True(loaded.FoundBySearch);
        Assert.Equal("consul", loaded.Config.Lease.Type);

        Write("cwd/litefs.yml", StaticPrimary);
        loaded = ConfigLoader.Load("", expandEnv: true, NoEnv, SearchList());
        Assert.Equal(_dir.Combine("cwd", "litefs.yml"), loaded.Path);
        Assert.Equal("static", loaded.Config.Lease.Type);
    }

    [Fact]
    public void Search_LastEntryIsUsedWhenOthersAreMissing()
    {
        Write("etc/litefs.yml", StaticPrimary);
        var loaded = ConfigLoader.Load(null, expandEnv: true, NoEnv, SearchList());
        Assert.Equal(_dir.Combine("etc", "litefs.yml"), loaded.Path);
    }

    [Fact]
    public void Search_NothingFound_IsConfigFileNotFound()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, expandEnv: true, NoEnv, SearchList()));
        Assert.Equal("config file not found", ex.Message);
    }

    [Fact]
    public void Search_ParseError_IsWrappedWithThePath()
    {
        var path = Write("home/litefs.yml", "lease:\n  type: static\n  candidat: true\n");
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, expandEnv: true, NoEnv, SearchList()));
        Assert.Equal($"cannot unmarshal config file at {path}: litefs.yml:3: unknown key \"lease.candidat\"", ex.Message);
    }

    [Fact]
    public void Search_UnreadableEntry_IsReadErrorAndStopsTheSearch()
    {
        var path = _dir.Combine("cwd", "litefs.yml");
        Directory.CreateDirectory(path);
        Write("etc/litefs.yml", StaticPrimary);
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, expandEnv: true, NoEnv, SearchList()));
        Assert.Equal($"cannot read config file at {path}: read {path}: is a directory", ex.Message);
    }

    [Fact]
    public void Search_RelativeEntry_IsMadeAbsolute()
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, Write("rel/litefs.yml", StaticPrimary));
        var loaded = ConfigLoader.Load(null, expandEnv: true, NoEnv, [relative]);
        Assert.Equal(_dir.Combine("rel", "litefs.yml"), loaded.Path);
    }

    [Fact]
    public void Explicit_MissingFile_IsGoOpenError()
    {
        var path = _dir.Combine("nope", "litefs.yml");
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, expandEnv: true, NoEnv, SearchList()));
        Assert.Equal($"open {path}: no such file or directory", ex.Message);
    }

    [Fact]
    public void Explicit_IsReadEvenWhenTheSearchWouldFindAnother()
    {
        Write("cwd/litefs.yml", "lease:\n  type: consul\n");
        var path = Write("custom.yml", StaticPrimary);
        var loaded = ConfigLoader.Load(path, expandEnv: true, NoEnv, SearchList());
        Assert.Equal(path, loaded.Path);
        Assert.False(loaded.FoundBySearch);
        Assert.Equal("static", loaded.Config.Lease.Type);
    }

    [Fact]
    public void Explicit_ParseError_IsReportedUnwrapped()
    {
        var path = Write("custom.yml", "data:\n  retention: 600\n");
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, expandEnv: true, NoEnv));
        Assert.StartsWith("custom.yml:2: data.retention: invalid duration 600 ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_EmptyFile_IsEof()
    {
        var path = Write("empty.yml", "");
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, expandEnv: true, NoEnv));
        Assert.StartsWith("empty.yml: EOF", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ExpandsTheEnvironment_UnlessDisabled()
    {
        var path = Write("litefs.yml", """
            # ${COMMENT_VAR} is expanded too, harmlessly
            lease:
              type: static
              hostname: "${HOST}"
              candidate: ${FLY_REGION == PRIMARY_REGION}
            """);
        var env = new Dictionary<string, string> { ["HOST"] = "node-1", ["FLY_REGION"] = "ord", ["PRIMARY_REGION"] = "ams" };
        var expanded = ConfigLoader.Load(path, expandEnv: true, name => env.GetValueOrDefault(name)).Config;
        Assert.Equal("node-1", expanded.Lease.Hostname);
        Assert.False(expanded.Lease.Candidate);

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, expandEnv: false, name => env.GetValueOrDefault(name)));
        Assert.Equal("litefs.yml:5: lease.candidate: invalid boolean \"${FLY_REGION == PRIMARY_REGION}\" (want true or false; yes/no and on/off are also accepted)", ex.Message);

        var literal = ConfigLoader.Parse("lease:\n  hostname: \"${HOST}\"\n", "litefs.yml", expandEnv: false, NoEnv);
        Assert.Equal("${HOST}", literal.Lease.Hostname);
    }

    [Fact]
    public void Load_ByteOrderMarks_AreHonoured()
    {
        var utf8 = _dir.Combine("bom8.yml");
        File.WriteAllBytes(utf8, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(StaticPrimary)]);
        Assert.Equal("static", ConfigLoader.Load(utf8, expandEnv: true, NoEnv).Config.Lease.Type);

        var utf16 = _dir.Combine("bom16.yml");
        File.WriteAllBytes(utf16, [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(StaticPrimary)]);
        Assert.Equal("static", ConfigLoader.Load(utf16, expandEnv: true, NoEnv).Config.Lease.Type);
    }

    [Theory]
    [InlineData("lease:\n  hostname: ", 2)]
    [InlineData("", 1)]
    [InlineData("# a comment \u00e9\nfuse:\n  dir: \"/litefs\"\nlease:\n  hostname: ", 5)]
    public void Load_InvalidUtf8_IsAnError_OnItsLine(string before, int line)
    {
        var path = _dir.Combine("bad.yml");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes(before), 0xC3, 0x28, (byte)'\n']);
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, expandEnv: true, NoEnv));
        Assert.StartsWith($"bad.yml:{line}: invalid UTF-8", ex.Message, StringComparison.Ordinal);
    }
}
