using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LiteFs.Cli.Config;

/// <summary>
/// Maps the YAML of a <c>litefs.yml</c> onto <see cref="LiteFsConfig"/> by hand, from YamlDotNet's
/// node model (no reflection, so it stays trimming- and AOT-safe). Strict like upstream: an unknown
/// key, or a value of the wrong type, is an error naming the file, the line and the key's full path.
/// Every error in the file is reported, one per line, not just the first.
/// </summary>
internal sealed class ConfigParser
{
    private readonly string _fileName;
    private readonly List<string> _errors = [];

    /// <summary>The line of each key read, by full path (the first occurrence, as merged keys come later).</summary>
    private readonly Dictionary<string, long> _lines = [];

    private ConfigParser(string fileName)
    {
        _fileName = fileName;
    }

    /// <summary>
    /// Parses YAML text that has already been through environment expansion. Keys that are absent,
    /// or present with a null value, keep their defaults. <paramref name="fileName"/> only labels
    /// the messages (<c>litefs.yml:7: unknown key "lease.candidat"</c>).
    /// </summary>
    /// <exception cref="ConfigException">The text is not valid YAML or does not fit the schema.</exception>
    public static LiteFsConfig Parse(string text, string fileName) => Parse(text, fileName, out _);

    /// <summary>As <see cref="Parse(string, string)"/>, also giving where each key is, for the checks made after parsing.</summary>
    /// <exception cref="ConfigException">The text is not valid YAML or does not fit the schema.</exception>
    public static LiteFsConfig Parse(string text, string fileName, out ConfigLines lines)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new ConfigParser(fileName);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            const string Duplicate = "Duplicate key ";
            var problem = ex.Message.StartsWith(Duplicate, StringComparison.Ordinal)
                ? $"duplicate key \"{ex.Message[Duplicate.Length..]}\" (a key may appear only once in a mapping)"
                : ex.Message;
            throw new ConfigException($"{fileName}:{LineOf(ex, text)}: invalid YAML: {problem}");
        }
        if (stream.Documents.Count == 0)
        {
            // Upstream's decoder reports io.EOF here; an empty config is an error there too.
            throw new ConfigException($"{fileName}: EOF: the file holds no YAML document (it is empty or only comments)");
        }
        // As upstream's decoder does, only the first document counts.
        var config = parser.ReadRoot(stream.Documents[0].RootNode);
        if (parser._errors.Count > 0)
        {
            throw new ConfigException(string.Join('\n', parser._errors));
        }
        lines = new ConfigLines(fileName, parser._lines);
        return config;
    }

    /// <summary>
    /// The line a YAML error is on. YamlDotNet reports a tab in an indentation at the start of
    /// the enclosing mapping (often line 1): the first line indented with a tab is the one to fix.
    /// </summary>
    private static long LineOf(YamlException ex, string text)
    {
        if (ex.Message.Contains("tab", StringComparison.OrdinalIgnoreCase))
        {
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var indent = lines[i].AsSpan();
                indent = indent[..(indent.Length - indent.TrimStart(" \t").Length)];
                if (indent.Contains('\t'))
                {
                    return i + 1;
                }
            }
        }
        return ex.Start.Line;
    }

    private LiteFsConfig ReadRoot(YamlNode node)
    {
        var c = new LiteFsConfig();
        foreach (var e in Entries(node, ""))
        {
            c = e.Name switch
            {
                "exit-on-error" => c with { ExitOnError = Bool(e, c.ExitOnError) },
                "skip-sync" => c with { SkipSync = Bool(e, c.SkipSync) },
                "strict-verify" => c with { StrictVerify = Bool(e, c.StrictVerify) },
                "exec" => c with { Exec = Exec(e, c.Exec) },
                "data" => c with { Data = ReadData(e, c.Data) },
                "fuse" => c with { Fuse = ReadFuse(e, c.Fuse) },
                "http" => c with { Http = ReadHttp(e, c.Http) },
                "proxy" => c with { Proxy = ReadProxy(e, c.Proxy) },
                "lease" => c with { Lease = ReadLease(e, c.Lease) },
                "backup" => c with { Backup = ReadBackup(e, c.Backup) },
                "log" => c with { Log = ReadLog(e, c.Log) },
                "tracing" => c with { Tracing = ReadTracing(e, c.Tracing) },
                _ => Unknown(e, c),
            };
        }
        return c;
    }

    private DataConfig ReadData(Entry section, DataConfig d) =>
        ReadSection(section, d, (e, d) => e.Name switch
        {
            "dir" => d with { Dir = String(e, d.Dir) },
            "compress" => d with { Compress = Bool(e, d.Compress) },
            "retention" => d with { Retention = Duration(e, d.Retention) },
            "retention-monitor-interval" => d with { RetentionMonitorInterval = Duration(e, d.RetentionMonitorInterval) },
            _ => Unknown(e, d),
        });

    private FuseConfig ReadFuse(Entry section, FuseConfig f) =>
        ReadSection(section, f, (e, f) => e.Name switch
        {
            "dir" => f with { Dir = String(e, f.Dir) },
            "allow-other" => f with { AllowOther = Bool(e, f.AllowOther) },
            "debug" => f with { Debug = Bool(e, f.Debug) },
            _ => Unknown(e, f),
        });

    private HttpConfig ReadHttp(Entry section, HttpConfig h) =>
        ReadSection(section, h, (e, h) => e.Name switch
        {
            "addr" => h with { Addr = ListenAddr(e, h.Addr) },
            "snapshot-timeout" => h with { SnapshotTimeout = Duration(e, h.SnapshotTimeout) },
            _ => Unknown(e, h),
        });

    private ProxyConfig ReadProxy(Entry section, ProxyConfig p) =>
        ReadSection(section, p, (e, p) => e.Name switch
        {
            "addr" => p with { Addr = ProxyAddr(e, p.Addr) },
            "target" => p with { Target = ProxyTarget(e, p.Target) },
            "db" => p with { Db = String(e, p.Db) },
            "max-lag" => p with { MaxLag = Duration(e, p.MaxLag) },
            "debug" => p with { Debug = Bool(e, p.Debug) },
            "passthrough" => p with { Passthrough = Patterns(e, p.Passthrough) },
            "always-forward" => p with { AlwaysForward = Patterns(e, p.AlwaysForward) },
            "primary-redirect-timeout" => p with { PrimaryRedirectTimeout = Duration(e, p.PrimaryRedirectTimeout) },
            "read-timeout" => p with { ReadTimeout = Duration(e, p.ReadTimeout) },
            "read-header-timeout" => p with { ReadHeaderTimeout = Duration(e, p.ReadHeaderTimeout) },
            "write-timeout" => p with { WriteTimeout = Duration(e, p.WriteTimeout) },
            "idle-timeout" => p with { IdleTimeout = Duration(e, p.IdleTimeout) },
            "dial-timeout" => p with { DialTimeout = Duration(e, p.DialTimeout) },
            "advertise-url" => p with { AdvertiseUrl = AdvertiseUrl(e, p.AdvertiseUrl, "http://10.0.0.1:8080") },
            "forward-mode" => p with { ForwardMode = String(e, p.ForwardMode) },
            "read-upgrades" => p with { ReadUpgrades = Patterns(e, p.ReadUpgrades) },
            _ => Unknown(e, p),
        });

    private LeaseConfig ReadLease(Entry section, LeaseConfig l) =>
        ReadSection(section, l, (e, l) => e.Name switch
        {
            "type" => l with { Type = String(e, l.Type) },
            "hostname" => l with { Hostname = String(e, l.Hostname) },
            "advertise-url" => l with { AdvertiseUrl = AdvertiseUrl(e, l.AdvertiseUrl, "http://10.0.0.1:20202") },
            "candidate" => l with { Candidate = Bool(e, l.Candidate) },
            "promote" => l with { Promote = Bool(e, l.Promote) },
            "reconnect-delay" => l with { ReconnectDelay = Duration(e, l.ReconnectDelay) },
            "demote-delay" => l with { DemoteDelay = Duration(e, l.DemoteDelay) },
            "databases" => l with { Databases = StringList(e, l.Databases) },
            "safe-promotion" => l with { SafePromotion = Bool(e, l.SafePromotion) },
            "consul" => l with { Consul = ReadConsul(e, l.Consul) },
            "etcd" => l with { Etcd = ReadEtcd(e, l.Etcd) },
            _ => Unknown(e, l),
        });

    private ConsulConfig ReadConsul(Entry section, ConsulConfig c) =>
        ReadSection(section, c, (e, c) => e.Name switch
        {
            "url" => c with { Url = ServiceUrl(e, c.Url, "http://consul:8500") },
            "key" => c with { Key = String(e, c.Key) },
            // Upstream keeps the default for zero or less; a positive TTL under the minimum is a mistake.
            "ttl" => c with { Ttl = Ttl(e, c.Ttl, zeroMeansDefault: true) },
            "lock-delay" => c with { LockDelay = Duration(e, c.LockDelay) },
            _ => Unknown(e, c),
        });

    private EtcdConfig ReadEtcd(Entry section, EtcdConfig c) =>
        ReadSection(section, c, (e, c) => e.Name switch
        {
            "endpoints" => c with { Endpoints = ServiceUrls(e, c.Endpoints) },
            "key" => c with { Key = String(e, c.Key) },
            "ttl" => c with { Ttl = WholeSeconds(e, Ttl(e, c.Ttl, zeroMeansDefault: false)) },
            "username" => c with { Username = String(e, c.Username) },
            "password" => c with { Password = String(e, c.Password) },
            "ca-file" => c with { CaFile = String(e, c.CaFile) },
            _ => Unknown(e, c),
        });

    /// <summary>A lease TTL: at least <see cref="LeaseConfig.MinTtl"/> (or, for Consul as upstream, zero or less for the default).</summary>
    private TimeSpan Ttl(Entry e, TimeSpan current, bool zeroMeansDefault)
    {
        var ttl = Duration(e, current);
        if (ttl == current || (zeroMeansDefault && ttl <= TimeSpan.Zero) || ttl >= LeaseConfig.MinTtl)
        {
            return ttl;
        }
        Error(e.Value, $"{e.Path}: {GoDuration.Format(ttl)} is below the minimum of {GoDuration.Format(LeaseConfig.MinTtl)} (a lease that short is lost to one slow request)");
        return current;
    }

    /// <summary>etcd counts lease TTLs in whole seconds.</summary>
    private TimeSpan WholeSeconds(Entry e, TimeSpan ttl)
    {
        if (ttl.Ticks % TimeSpan.TicksPerSecond == 0)
        {
            return ttl;
        }
        Error(e.Value, $"{e.Path}: {GoDuration.Format(ttl)} is not a whole number of seconds (etcd leases last whole seconds)");
        return ttl;
    }

    /// <summary>An <c>http</c> or <c>https</c> URL of a service the node talks to.</summary>
    private string ServiceUrl(Entry e, string current, string example)
    {
        var text = String(e, current);
        if (text.Length > 0 && !IsServiceUrl(text))
        {
            Error(e.Value, $"{e.Path}: invalid URL \"{text}\" (want http:// or https:// and a host, e.g. \"{example}\")");
        }
        return text;
    }

    private IReadOnlyList<string> ServiceUrls(Entry e, IReadOnlyList<string> current)
    {
        var urls = StringList(e, current);
        if (e.Value is YamlSequenceNode sequence)
        {
            for (var i = 0; i < urls.Count && i < sequence.Children.Count; i++)
            {
                if (!IsServiceUrl(urls[i]))
                {
                    Error(sequence.Children[i], $"{e.Path}[{i}]: invalid URL \"{urls[i]}\" (want http:// or https:// and a host, e.g. \"http://127.0.0.1:2379\")");
                }
            }
        }
        return urls;
    }

    private static bool IsServiceUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0;

    private BackupConfig ReadBackup(Entry section, BackupConfig b) =>
        ReadSection(section, b, (e, b) => e.Name switch
        {
            "type" => b with { Type = String(e, b.Type) },
            "path" => b with { Path = String(e, b.Path) },
            "url" => b with { Url = String(e, b.Url) },
            "cluster" => b with { Cluster = String(e, b.Cluster) },
            "auth-token" => b with { AuthToken = String(e, b.AuthToken) },
            _ => Unknown(e, b),
        });

    private LogConfig ReadLog(Entry section, LogConfig l) =>
        ReadSection(section, l, (e, l) => e.Name switch
        {
            "format" => l with { Format = String(e, l.Format) },
            "timestamp" => l with { Timestamp = Bool(e, l.Timestamp) },
            "debug" => l with { Debug = Bool(e, l.Debug) },
            _ => Unknown(e, l),
        });

    private TracingConfig ReadTracing(Entry section, TracingConfig t) =>
        ReadSection(section, t, (e, t) => e.Name switch
        {
            "enabled" => t with { Enabled = Bool(e, t.Enabled) },
            "path" => t with { Path = String(e, t.Path) },
            "max-size" => t with { MaxSize = Int(e, t.MaxSize) },
            "max-count" => t with { MaxCount = Int(e, t.MaxCount) },
            "compress" => t with { Compress = Bool(e, t.Compress) },
            _ => Unknown(e, t),
        });

    /// <summary>Applies <paramref name="apply"/> to each entry of a mapping section in order.</summary>
    private T ReadSection<T>(Entry section, T value, Func<Entry, T, T> apply)
    {
        foreach (var e in Entries(section.Value, section.Path))
        {
            value = apply(e, value);
        }
        return value;
    }

    /// <summary>
    /// <c>exec</c>: a command string, or a list of <c>{cmd, if-candidate}</c> mappings. Like
    /// upstream, a scalar counts only if it is a string (<c>exec: 42</c> is not a command), and null
    /// means no command.
    /// </summary>
    private IReadOnlyList<ExecConfig> Exec(Entry e, IReadOnlyList<ExecConfig> current)
    {
        switch (e.Value)
        {
            case YamlScalarNode scalar when YamlScalar.Resolve(scalar) == ScalarKind.Null:
                return [];
            case YamlScalarNode scalar when YamlScalar.IsStringTagged(scalar):
                CheckCommand(scalar, e.Path, scalar.Value ?? "");
                return [new ExecConfig(scalar.Value ?? "")];
            case YamlSequenceNode sequence:
                var list = new List<ExecConfig>(sequence.Children.Count);
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    var item = sequence.Children[i];
                    var path = $"{e.Path}[{i}]";
                    if (item is not YamlMappingNode)
                    {
                        Error(item, $"{path}: expected a mapping with \"cmd\" and optional \"if-candidate\", got {Describe(item)}");
                        continue;
                    }
                    var exec = new ExecConfig("");
                    foreach (var field in Entries(item, path))
                    {
                        exec = field.Name switch
                        {
                            "cmd" => exec with { Cmd = Command(field, exec.Cmd) },
                            "if-candidate" => exec with { IfCandidate = Bool(field, exec.IfCandidate) },
                            _ => Unknown(field, exec),
                        };
                    }
                    list.Add(exec);
                }
                return list;
            default:
                Error(e.Value, $"invalid exec config format (exec must be a command string or a list of {{cmd, if-candidate}} entries, got {Describe(e.Value)})");
                return current;
        }
    }

    private string String(Entry e, string current)
    {
        if (e.Value is YamlScalarNode scalar)
        {
            // go-yaml gives a string field the scalar's text whatever it resolves to (8080, true).
            return YamlScalar.Resolve(scalar) == ScalarKind.Null ? current : scalar.Value ?? "";
        }
        Error(e.Value, $"{e.Path}: expected a string, got {Describe(e.Value)}");
        return current;
    }

    /// <summary>A listen address (<c>host:port</c>), checked here so that a bad one is reported with its line, before anything starts.</summary>
    private string ListenAddr(Entry e, string current)
    {
        var text = String(e, current);
        try
        {
            _ = LiteFs.Http.ListenAddress.Parse(text);
        }
        catch (FormatException ex)
        {
            Error(e.Value, ex.Message);
            return current;
        }
        return text;
    }

    /// <summary><c>proxy.addr</c>: <c>:PORT</c> or <c>HOST:PORT</c>, checked as the proxy will bind it.</summary>
    private string ProxyAddr(Entry e, string current)
    {
        var text = String(e, current);
        if (text.Length > 0 && !LiteFs.Proxy.ProxyOptions.IsListenAddress(text))
        {
            Error(e.Value, $"{e.Path}: invalid address \"{text}\" (want \":PORT\" or \"HOST:PORT\", e.g. \":8080\")");
            return current;
        }
        return text;
    }

    /// <summary><c>proxy.target</c>: the application's <c>HOST:PORT</c>, which the proxy puts after <c>http://</c>.</summary>
    private string ProxyTarget(Entry e, string current)
    {
        var text = String(e, current);
        if (text.Length > 0 && !LiteFs.Proxy.ProxyOptions.IsTarget(text))
        {
            Error(e.Value, $"{e.Path}: invalid target \"{text}\" (want the application's HOST:PORT, e.g. \"localhost:8081\", with no scheme or path)");
            return current;
        }
        return text;
    }

    /// <summary>A list of proxy path patterns, each parsed as the proxy will, with upstream's message for a bad one.</summary>
    private IReadOnlyList<string> Patterns(Entry e, IReadOnlyList<string> current)
    {
        var texts = StringList(e, current);
        if (e.Value is YamlSequenceNode sequence)
        {
            for (var i = 0; i < texts.Count && i < sequence.Children.Count; i++)
            {
                if (!LiteFs.Proxy.PathPattern.TryParse(texts[i], out _))
                {
                    Error(sequence.Children[i], $"cannot parse {e.Path.Replace('.', ' ')} expression: \"{texts[i]}\"");
                }
            }
        }
        return texts;
    }

    /// <summary>An advertised URL: empty, or an absolute http(s) URL with a host, as other nodes will dial it.</summary>
    private string AdvertiseUrl(Entry e, string current, string example)
    {
        var text = String(e, current);
        if (text.Length > 0 && !IsServiceUrl(text))
        {
            Error(e.Value, $"{e.Path}: invalid URL \"{text}\" (want the URL other nodes reach this node on, e.g. \"{example}\")");
            return current;
        }
        return text;
    }

    /// <summary>An <c>exec</c> command line, split now as the node will split it when it runs it.</summary>
    private string Command(Entry e, string current)
    {
        var text = String(e, current);
        CheckCommand(e.Value, e.Path, text);
        return text;
    }

    private void CheckCommand(YamlNode node, string path, string line)
    {
        try
        {
            _ = LiteFs.Cli.Exec.ShellWords.Split(line);
        }
        catch (FormatException ex)
        {
            Error(node, $"{path}: {ex.Message}");
        }
    }

    private bool Bool(Entry e, bool current)
    {
        if (e.Value is YamlScalarNode scalar)
        {
            if (YamlScalar.Resolve(scalar) == ScalarKind.Null)
            {
                return current;
            }
            if (YamlScalar.TryGetBool(scalar, out var value))
            {
                return value;
            }
            var text = scalar.Value ?? "";
            var hint = scalar.Style != ScalarStyle.Plain && text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE"
                ? "a quoted value is a string, not a boolean; remove the quotes"
                : "want true or false; yes/no and on/off are also accepted";
            Error(scalar, $"{e.Path}: invalid boolean \"{text}\" ({hint})");
            return current;
        }
        Error(e.Value, $"{e.Path}: expected a boolean (true or false), got {Describe(e.Value)}");
        return current;
    }

    private int Int(Entry e, int current)
    {
        if (e.Value is YamlScalarNode scalar)
        {
            if (YamlScalar.Resolve(scalar) == ScalarKind.Null)
            {
                return current;
            }
            if (YamlScalar.TryGetInt(scalar, out var value))
            {
                return value;
            }
            Error(scalar, $"{e.Path}: invalid integer \"{scalar.Value}\" (want a whole number such as {current})");
            return current;
        }
        Error(e.Value, $"{e.Path}: expected an integer, got {Describe(e.Value)}");
        return current;
    }

    private TimeSpan Duration(Entry e, TimeSpan current)
    {
        if (e.Value is YamlScalarNode scalar)
        {
            var text = scalar.Value ?? "";
            switch (YamlScalar.Resolve(scalar))
            {
                case ScalarKind.Null:
                    return current;
                case ScalarKind.String when GoDuration.TryParse(text, out var value):
                    return value;
                case ScalarKind.Int or ScalarKind.Float:
                    // Upstream's YAML library refuses numbers for durations: the unit is mandatory.
                    Error(scalar, $"{e.Path}: invalid duration {text} (a bare number is not a duration; give a unit, as in \"{text}s\" or \"{text}ms\")");
                    return current;
                default:
                    Error(scalar, $"{e.Path}: invalid duration \"{text}\" (want Go duration syntax such as \"10m\" or \"1h30m\")");
                    return current;
            }
        }
        Error(e.Value, $"{e.Path}: expected a duration such as \"10s\", got {Describe(e.Value)}");
        return current;
    }

    private IReadOnlyList<string> StringList(Entry e, IReadOnlyList<string> current)
    {
        switch (e.Value)
        {
            case YamlScalarNode scalar when YamlScalar.Resolve(scalar) == ScalarKind.Null:
                return [];
            case YamlSequenceNode sequence:
                var list = new List<string>(sequence.Children.Count);
                for (var i = 0; i < sequence.Children.Count; i++)
                {
                    switch (sequence.Children[i])
                    {
                        case YamlScalarNode item:
                            // A null item decodes to an empty string upstream.
                            list.Add(YamlScalar.Resolve(item) == ScalarKind.Null ? "" : item.Value ?? "");
                            break;
                        case var item:
                            Error(item, $"{e.Path}[{i}]: expected a string, got {Describe(item)}");
                            break;
                    }
                }
                return list;
            default:
                Error(e.Value, $"{e.Path}: expected a list of strings, got {Describe(e.Value)}");
                return current;
        }
    }

    private T Unknown<T>(Entry e, T current)
    {
        Error(e.Key, $"unknown key \"{e.Path}\"");
        return current;
    }

    /// <summary>
    /// The key/value pairs of a mapping in document order, with YAML merge keys (<c>&lt;&lt;: *anchor</c>)
    /// applied as go-yaml applies them: keys written in the mapping itself win over merged ones, and
    /// among merged mappings the first one wins. A null node has no entries (the section keeps its
    /// defaults); anything else that is not a mapping is an error.
    /// </summary>
    private List<Entry> Entries(YamlNode node, string path)
    {
        var entries = new List<Entry>();
        if (node is YamlScalarNode scalar && YamlScalar.Resolve(scalar) == ScalarKind.Null)
        {
            return entries;
        }
        if (node is not YamlMappingNode mapping)
        {
            var what = path.Length == 0 ? "the top level of the file" : path;
            Error(node, $"{what}: expected a mapping of keys, got {Describe(node)}");
            return entries;
        }
        var merges = new List<YamlNode>();
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode key)
            {
                Error(keyNode, $"{(path.Length == 0 ? "" : path + ": ")}a key must be a plain name, got {Describe(keyNode)}");
                continue;
            }
            var name = key.Value ?? "";
            if (name == "<<" && key.Style == ScalarStyle.Plain)
            {
                merges.Add(value);
                continue;
            }
            var full = path.Length == 0 ? name : $"{path}.{name}";
            _lines.TryAdd(full, key.Start.Line);
            entries.Add(new Entry(name, full, key, value));
        }
        foreach (var merge in merges)
        {
            var sources = merge is YamlSequenceNode list ? list.Children : (IList<YamlNode>)[merge];
            foreach (var source in sources)
            {
                if (source is not YamlMappingNode)
                {
                    Error(source, $"{(path.Length == 0 ? "" : path + ": ")}a merge key (<<) needs a mapping or a list of mappings, got {Describe(source)}");
                    continue;
                }
                foreach (var merged in Entries(source, path))
                {
                    if (!entries.Exists(x => x.Name == merged.Name))
                    {
                        entries.Add(merged);
                    }
                }
            }
        }
        return entries;
    }

    private void Error(YamlNode node, string message) => _errors.Add($"{_fileName}:{node.Start.Line}: {message}");

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => YamlScalar.Resolve(s) switch
        {
            ScalarKind.Null => "nothing (null)",
            ScalarKind.Bool => $"the boolean {s.Value}",
            ScalarKind.Int or ScalarKind.Float => $"the number {s.Value}",
            _ => $"the string \"{s.Value}\"",
        },
        _ => "an unsupported YAML node",
    };

    /// <summary>One key of a mapping: its name, its full dotted path, and its nodes.</summary>
    private readonly record struct Entry(string Name, string Path, YamlNode Key, YamlNode Value);
}
