namespace LiteFs.Cli.Config;

/// <summary>
/// The whole <c>litefs.yml</c> schema of upstream LiteFS v0.5.14. Every property starts at
/// upstream's default; <see cref="ConfigParser"/> replaces the ones a file sets. Records, so a
/// command-line override is a <c>with</c> expression (<c>config with { Exec = [...] }</c>).
/// </summary>
internal sealed record LiteFsConfig
{
    /// <summary><c>exit-on-error</c>: on a start-up error exit (status 1) instead of staying up for debugging.</summary>
    public bool ExitOnError { get; init; } = true;

    /// <summary><c>skip-sync</c>: start the proxy and <c>exec</c> without waiting to be primary or connected.</summary>
    public bool SkipSync { get; init; }

    /// <summary><c>strict-verify</c>: recompute the database checksum after every commit (testing only).</summary>
    public bool StrictVerify { get; init; }

    /// <summary><c>exec</c>: the subprocesses to run, in order; the last one runs in the background.</summary>
    public IReadOnlyList<ExecConfig> Exec { get; init; } = [];

    /// <summary><c>data</c>: the data directory and LTX retention.</summary>
    public DataConfig Data { get; init; } = new();

    /// <summary><c>fuse</c>: the mount.</summary>
    public FuseConfig Fuse { get; init; } = new();

    /// <summary><c>http</c>: the node API server.</summary>
    public HttpConfig Http { get; init; } = new();

    /// <summary><c>proxy</c>: the built-in HTTP proxy (proxy.md §1).</summary>
    public ProxyConfig Proxy { get; init; } = new();

    /// <summary><c>lease</c>: how the primary is chosen.</summary>
    public LeaseConfig Lease { get; init; } = new();

    /// <summary><c>backup</c>: the optional backup service.</summary>
    public BackupConfig Backup { get; init; } = new();

    /// <summary><c>log</c>: log output.</summary>
    public LogConfig Log { get; init; } = new();

    /// <summary><c>tracing</c>: the low-level file-operation trace log.</summary>
    public TracingConfig Tracing { get; init; } = new();

    /// <summary>
    /// The configuration for running one node with no <c>litefs.yml</c> at all: a static-lease
    /// primary keeping its data in <c>&lt;root&gt;/data</c>, mounted at <c>&lt;root&gt;/mnt</c>, with
    /// its API on <c>127.0.0.1:20202</c>.
    /// </summary>
    /// <remarks>
    /// Built as an object rather than as YAML text run through the loader: the root is any local
    /// path, and pasting it into YAML would need quoting (<c>:</c>, <c>#</c>, quotes) and escaping
    /// from environment expansion (<c>$</c>), a failure mode a default must not have. The object is
    /// checked by the compiler, and a test runs it through <see cref="Validate(ConfigLines)"/>.
    /// <paramref name="port"/> is the node API's port on 127.0.0.1; with <paramref name="primaryUrl"/>
    /// the node is a replica of that primary.
    /// </remarks>
    public static LiteFsConfig Default(string root, int port = 20202, string? primaryUrl = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var full = System.IO.Path.GetFullPath(root);
        var own = $"http://127.0.0.1:{port}";
        return new LiteFsConfig
        {
            Data = new DataConfig { Dir = System.IO.Path.Combine(full, "data") },
            Fuse = new FuseConfig { Dir = System.IO.Path.Combine(full, "mnt") },
            Http = new HttpConfig { Addr = $"127.0.0.1:{port}" },
            // A replica's static lease names the primary: its hostname and URL.
            Lease = new LeaseConfig
            {
                Type = LeaseConfig.StaticType,
                Candidate = primaryUrl is null,
                Hostname = primaryUrl is null ? "localhost" : new Uri(primaryUrl).Authority,
                AdvertiseUrl = primaryUrl ?? own,
            },
        };
    }

    /// <summary>
    /// The checks <c>litefs mount</c> makes after loading the file and applying its flags
    /// (config-and-cli.md §3.1); failing ones end the command with exit status 2. Throws the first
    /// failure, as upstream does.
    /// </summary>
    /// <exception cref="ConfigException">A value is missing or inconsistent.</exception>
    public void Validate() => Validate(ConfigLines.None);

    /// <summary>
    /// As <see cref="Validate()"/>, each message led by the file and line of the key to fix
    /// (<c>litefs.yml:12: proxy database name required</c>), or the file alone when the key is
    /// missing from it. Also checks what upstream only finds once the mount is up (the proxy's
    /// required keys), so that nothing starts on a configuration that cannot run.
    /// </summary>
    /// <exception cref="ConfigException">A value is missing or inconsistent.</exception>
    public void Validate(ConfigLines lines)
    {
        if (string.IsNullOrEmpty(Fuse.Dir))
        {
            throw new ConfigException(lines.At("fuse.dir", "fuse") + "fuse directory required");
        }
        if (string.IsNullOrEmpty(Data.Dir))
        {
            throw new ConfigException(lines.At("data.dir", "data") + "data directory required");
        }
        // Upstream compares the strings; comparing normalised full paths also catches "/litefs"
        // against "/litefs/", which would mount the file system over its own data.
        if (Fuse.Dir == Data.Dir || SamePath(Fuse.Dir, Data.Dir))
        {
            throw new ConfigException(lines.At("fuse.dir", "data.dir") + "fuse directory and data directory cannot be the same path");
        }
        if (Lease.Type is not (LeaseConfig.ConsulType or LeaseConfig.StaticType or LeaseConfig.EtcdType))
        {
            throw new ConfigException(lines.At("lease.type", "lease") + $"invalid lease type, must be 'static', 'consul' or 'etcd', got: '{Lease.Type}'");
        }
        if (Lease.Candidate && Lease.Databases.Count > 0)
        {
            throw new ConfigException(lines.At("lease.databases") + "cannot specify a database replication filter on candidate nodes");
        }
        Lease.Validate(lines);
        if (Proxy.ForwardMode is not ("" or ProxyConfig.ForwardModeProxy or ProxyConfig.ForwardModeFlyReplay))
        {
            throw new ConfigException(lines.At("proxy.forward-mode") + $"invalid proxy forward mode, must be either 'proxy' or 'fly-replay', got: '{Proxy.ForwardMode}'");
        }
        if (Proxy.Target.Length > 0 && Proxy.Db.Length == 0)
        {
            throw new ConfigException(lines.At("proxy.db", "proxy.target") + "proxy database name required");
        }
        if (Proxy.Target.Length > 0 && Proxy.Addr.Length == 0)
        {
            throw new ConfigException(lines.At("proxy.addr", "proxy.target") + "proxy bind address required");
        }
        if (Log.Format is not ("text" or "json"))
        {
            throw new ConfigException(lines.At("log.format") + $"invalid log format: \"{Log.Format}\"");
        }
    }

    private static bool SamePath(string a, string b)
    {
        static string Normalize(string p) => System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(p));
        try
        {
            return string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);
        }
        catch (ArgumentException)
        {
            // A path with a NUL in it; the mount will reject it with a better message.
            return false;
        }
    }
}

/// <summary>One <c>exec</c> entry.</summary>
/// <param name="Cmd"><c>cmd</c>: the command line, split with shell-word rules when run.</param>
/// <param name="IfCandidate"><c>if-candidate</c>: skip this entry on nodes that cannot become primary.</param>
internal sealed record ExecConfig(string Cmd, bool IfCandidate = false);

/// <summary>The <c>data</c> section.</summary>
internal sealed record DataConfig
{
    /// <summary><c>dir</c>: the data directory; must differ from <c>fuse.dir</c>.</summary>
    public string Dir { get; init; } = "/var/lib/litefs";

    /// <summary><c>compress</c>: LZ4-compress the LTX files this node writes.</summary>
    public bool Compress { get; init; } = true;

    /// <summary>
    /// <c>retention</c>: minimum age before an LTX file may be deleted; zero disables retention.
    /// Also the snapshot send timeout when <c>http.snapshot-timeout</c> is zero.
    /// </summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary><c>retention-monitor-interval</c>: how often retention runs; zero disables it.</summary>
    public TimeSpan RetentionMonitorInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>The <c>fuse</c> section.</summary>
internal sealed record FuseConfig
{
    /// <summary><c>dir</c>: the mount point.</summary>
    public string Dir { get; init; } = "/litefs";

    /// <summary><c>allow-other</c>: mount with <c>allow_other</c> so other users can use the mount.</summary>
    public bool AllowOther { get; init; }

    /// <summary><c>debug</c>: log every FUSE request.</summary>
    public bool Debug { get; init; }
}

/// <summary>The <c>http</c> section.</summary>
internal sealed record HttpConfig
{
    /// <summary><c>addr</c>: bind address of the node API.</summary>
    public string Addr { get; init; } = ":20202";

    /// <summary><c>snapshot-timeout</c>: maximum time to send one snapshot; zero means <c>data.retention</c>.</summary>
    public TimeSpan SnapshotTimeout { get; init; }
}

/// <summary>The <c>proxy</c> section (proxy.md §1); the proxy runs only when <see cref="Target"/> is set.</summary>
internal sealed record ProxyConfig
{
    /// <summary><c>addr</c>: listen address, required when <c>target</c> is set.</summary>
    public string Addr { get; init; } = "";

    /// <summary><c>target</c>: <c>host:port</c> of the application; empty disables the proxy.</summary>
    public string Target { get; init; } = "";

    /// <summary><c>db</c>: database name used for TXID tracking, required when <c>target</c> is set.</summary>
    public string Db { get; init; } = "";

    /// <summary><c>max-lag</c>: the health check fails above this replication lag; zero disables the check.</summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>debug</c>: log every routing decision.</summary>
    public bool Debug { get; init; }

    /// <summary><c>passthrough</c>: path patterns forwarded untouched.</summary>
    public IReadOnlyList<string> Passthrough { get; init; } = [];

    /// <summary><c>always-forward</c>: path patterns whose GET/HEAD requests count as writes.</summary>
    public IReadOnlyList<string> AlwaysForward { get; init; } = [];

    /// <summary><c>primary-redirect-timeout</c>: how long a write waits for primary information.</summary>
    public TimeSpan PrimaryRedirectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>read-timeout</c>: server read timeout for a whole request; zero means none.</summary>
    public TimeSpan ReadTimeout { get; init; }

    /// <summary><c>read-header-timeout</c>: server timeout for reading request headers.</summary>
    public TimeSpan ReadHeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>write-timeout</c>: server response write timeout; zero means none.</summary>
    public TimeSpan WriteTimeout { get; init; }

    /// <summary><c>idle-timeout</c>: keep-alive idle timeout.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The <c>forward-mode</c> value that forwards a replica's writes to the primary's proxy.</summary>
    public const string ForwardModeProxy = "proxy";

    /// <summary>The <c>forward-mode</c> value that answers a replica's writes with <c>fly-replay</c>, as upstream.</summary>
    public const string ForwardModeFlyReplay = "fly-replay";

    /// <summary>
    /// <c>dial-timeout</c> (not upstream's): how long connecting to the application may take,
    /// refused connections retried every 100 ms meanwhile (upstream's fixed 30 s).
    /// </summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>advertise-url</c> (not upstream's): this node's proxy as other nodes reach it; empty
    /// means <c>lease.advertise-url</c>'s host with <c>addr</c>'s port (on a candidate).
    /// </summary>
    public string AdvertiseUrl { get; init; } = "";

    /// <summary>
    /// <c>forward-mode</c> (not upstream's): <c>proxy</c> or <c>fly-replay</c>; empty means
    /// <c>fly-replay</c> on Fly.io (<c>FLY_APP_NAME</c> set) and <c>proxy</c> elsewhere.
    /// </summary>
    public string ForwardMode { get; init; } = "";

    /// <summary><c>read-upgrades</c> (not upstream's): paths whose upgrade requests (WebSocket) are reads served locally.</summary>
    public IReadOnlyList<string> ReadUpgrades { get; init; } = [];
}

/// <summary>The <c>lease</c> section.</summary>
internal sealed record LeaseConfig
{
    /// <summary>The <c>lease.type</c> value for a Consul lease.</summary>
    public const string ConsulType = "consul";

    /// <summary>The <c>lease.type</c> value for a static lease.</summary>
    public const string StaticType = "static";

    /// <summary>The <c>lease.type</c> value for an etcd lease (not upstream's).</summary>
    public const string EtcdType = "etcd";

    /// <summary>The shortest TTL a Consul or etcd lease may have: below it, one slow request costs the primary its lease.</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(1);

    /// <summary><c>type</c>: <c>static</c>, <c>consul</c> or <c>etcd</c>; required (empty fails validation).</summary>
    public string Type { get; init; } = "";

    /// <summary>
    /// <c>hostname</c>: the name other nodes use for this one. Empty here; the Consul lease uses the
    /// OS host name when it is empty. For a static replica, the primary's host name.
    /// </summary>
    public string Hostname { get; init; } = "";

    /// <summary>
    /// <c>advertise-url</c>: this node's API URL for replicas. Empty here; the Consul lease then uses
    /// <c>http://&lt;hostname&gt;:&lt;HTTP port&gt;</c>. For a static replica, the primary's URL.
    /// </summary>
    public string AdvertiseUrl { get; init; } = "";

    /// <summary><c>candidate</c>: may become primary; for a static lease, true means this node is the primary.</summary>
    public bool Candidate { get; init; } = true;

    /// <summary><c>promote</c>: after joining, ask for a handoff to become primary (candidates only).</summary>
    public bool Promote { get; init; }

    /// <summary><c>reconnect-delay</c>: pause before retrying after a disconnect or lease error.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>demote-delay</c>: pause after a manual demotion before trying to become primary again.</summary>
    public TimeSpan DemoteDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>databases</c>: replicate only these databases (non-candidates only).</summary>
    public IReadOnlyList<string> Databases { get; init; } = [];

    /// <summary>
    /// <c>safe-promotion</c> (not upstream's): a candidate takes the lease only when it may
    /// (not while it has no cluster ID though the lease has one, an empty node, nor behind the
    /// primary it last followed); false takes it whenever nobody holds it, as upstream does.
    /// </summary>
    public bool SafePromotion { get; init; } = true;

    /// <summary><c>consul</c>: the Consul lease settings.</summary>
    public ConsulConfig Consul { get; init; } = new();

    /// <summary><c>etcd</c>: the etcd lease settings (not upstream's).</summary>
    public EtcdConfig Etcd { get; init; } = new();

    /// <summary>The settings the chosen lease type needs (config-and-cli.md §3.1 checks the type first).</summary>
    /// <exception cref="ConfigException">A required key is missing or two keys disagree.</exception>
    public void Validate(ConfigLines lines)
    {
        switch (Type)
        {
            case ConsulType when Consul.Url.Length == 0:
                throw new ConfigException(lines.At("lease.consul", "lease.type") + "lease.consul.url: required for lease type 'consul', e.g. \"http://consul:8500\"");
            case ConsulType when Consul.Key.Length == 0:
                throw new ConfigException(lines.At("lease.consul", "lease.type") + "must specify a consul key (lease.consul.key), e.g. \"litefs/primary\"");
            case EtcdType when Etcd.Endpoints.Count == 0:
                throw new ConfigException(lines.At("lease.etcd", "lease.type") + "lease.etcd.endpoints: at least one endpoint is required for lease type 'etcd', e.g. [\"http://127.0.0.1:2379\"]");
            case EtcdType when Etcd.Key.Length == 0:
                throw new ConfigException(lines.At("lease.etcd", "lease.type") + "lease.etcd.key: required for lease type 'etcd', e.g. \"/litefs/my-app/primary\"");
            case EtcdType when Etcd.Username.Length == 0 != (Etcd.Password.Length == 0):
                throw new ConfigException(lines.At("lease.etcd.username", "lease.etcd.password") + "lease.etcd.username and lease.etcd.password: set both (etcd authentication) or neither");
        }
    }
}

/// <summary>The <c>lease.etcd</c> section (not upstream's).</summary>
internal sealed record EtcdConfig
{
    /// <summary><c>endpoints</c>: etcd client URLs (<c>http://</c> or <c>https://</c>), tried in turn.</summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary><c>key</c>: the lease key, e.g. <c>/litefs/my-app/primary</c>; the cluster ID lives at <c>KEY/clusterid</c>.</summary>
    public string Key { get; init; } = "";

    /// <summary><c>ttl</c>: the etcd lease's TTL, whole seconds, at least 1 s.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>username</c>: with <c>password</c>, authenticate to etcd.</summary>
    public string Username { get; init; } = "";

    /// <summary><c>password</c>.</summary>
    public string Password { get; init; } = "";

    /// <summary><c>ca-file</c>: PEM file of the CA of the etcd servers' certificates (https endpoints).</summary>
    public string CaFile { get; init; } = "";
}

/// <summary>The <c>lease.consul</c> section.</summary>
internal sealed record ConsulConfig
{
    /// <summary>
    /// <c>url</c>: Consul base URL; a path becomes a key prefix, a password in the user-info part
    /// is the ACL token.
    /// </summary>
    public string Url { get; init; } = "";

    /// <summary><c>key</c>: KV key of the lease, e.g. <c>litefs/primary</c>.</summary>
    public string Key { get; init; } = "";

    /// <summary><c>ttl</c>: session TTL. The lease treats values ≤ 0 as the default, 10 s.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><c>lock-delay</c>: session lock-delay. The lease treats values ≤ 0 as the default, 1 s.</summary>
    public TimeSpan LockDelay { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The <c>backup</c> section; empty <see cref="Type"/> means no backup.</summary>
internal sealed record BackupConfig
{
    /// <summary><c>type</c>: <c>file</c>, <c>litefs-cloud</c>, or empty.</summary>
    public string Type { get; init; } = "";

    /// <summary><c>path</c>: directory for <c>file</c> backups.</summary>
    public string Path { get; init; } = "";

    /// <summary><c>url</c>: service URL for <c>litefs-cloud</c> (only scheme and host are used).</summary>
    public string Url { get; init; } = "";

    /// <summary><c>cluster</c>: cluster name sent as the <c>cluster</c> query parameter.</summary>
    public string Cluster { get; init; } = "";

    /// <summary><c>auth-token</c>: sent verbatim in the <c>Authorization</c> header.</summary>
    public string AuthToken { get; init; } = "";
}

/// <summary>The <c>log</c> section.</summary>
internal sealed record LogConfig
{
    /// <summary><c>format</c>: <c>text</c> or <c>json</c>.</summary>
    public string Format { get; init; } = "text";

    /// <summary><c>timestamp</c>: include timestamps in structured log lines.</summary>
    public bool Timestamp { get; init; }

    /// <summary><c>debug</c>: debug-level logging.</summary>
    public bool Debug { get; init; }
}

/// <summary>The <c>tracing</c> section.</summary>
internal sealed record TracingConfig
{
    /// <summary><c>enabled</c>: write the trace log when <see cref="Path"/> is set.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary><c>path</c>: the trace file (rotated); empty means no trace file.</summary>
    public string Path { get; init; } = "";

    /// <summary><c>max-size</c>: megabytes per file before rotation.</summary>
    public int MaxSize { get; init; } = 64;

    /// <summary><c>max-count</c>: rotated files kept.</summary>
    public int MaxCount { get; init; } = 8;

    /// <summary><c>compress</c>: gzip rotated files.</summary>
    public bool Compress { get; init; } = true;
}
