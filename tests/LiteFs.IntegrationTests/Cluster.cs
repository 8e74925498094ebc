using System.Globalization;
using System.Text;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>Per-node settings a cluster test changes; everything else is the fixture's default.</summary>
public sealed record NodeSettings
{
    /// <summary><c>data.retention</c> (Go duration); null keeps LiteFS's default.</summary>
    public string? Retention { get; init; }

    /// <summary><c>data.retention-monitor-interval</c>; off by default so no LTX file disappears unless a test asks.</summary>
    public string RetentionMonitorInterval { get; init; } = "0s";

    /// <summary><c>data.compress</c>; null keeps LiteFS's default.</summary>
    public bool? Compress { get; init; }

    /// <summary><c>lease.reconnect-delay</c>; null keeps LiteFS's default (1 s).</summary>
    public string? ReconnectDelay { get; init; }

    /// <summary><c>http.snapshot-timeout</c>; null keeps LiteFS's default (the retention).</summary>
    public string? SnapshotTimeout { get; init; }

    /// <summary>Extra top-level YAML appended to the generated litefs.yml (sections the fixture does not write).</summary>
    public string Yaml { get; init; } = "";
}

/// <summary>
/// One node of a <see cref="Cluster"/>: a <c>litefs mount -config</c> process with its own
/// directory (data, mount point, litefs.yml) and HTTP port, which a test can stop, kill and
/// start again on the same data. The output of every run is kept for failure messages.
/// Disposing kills the process by PID and detaches a mount it left behind.
/// </summary>
public sealed class ClusterNode : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly StringBuilder _earlierRuns = new();
    private readonly string? _leaseYaml;
    private ChildProcess? _process;
    private int _runs;

    /// <param name="leaseYaml">
    /// The whole <c>lease:</c> section for a lease that moves (the node is then a candidate whose
    /// role the lease decides); null for the static lease of <paramref name="isPrimary"/> and
    /// <paramref name="primaryUrl"/>.
    /// </param>
    internal ClusterNode(string name, string root, bool isPrimary, int port, string primaryUrl, NodeSettings settings, string? leaseYaml = null)
    {
        Name = name;
        Root = root;
        IsPrimary = isPrimary;
        Port = port;
        DataDir = System.IO.Path.Combine(root, "data");
        MountPoint = System.IO.Path.Combine(root, "mnt");
        ConfigPath = System.IO.Path.Combine(root, "litefs.yml");
        Directory.CreateDirectory(root);
        _leaseYaml = leaseYaml;
        File.WriteAllText(ConfigPath, Config(isPrimary, primaryUrl, settings));
    }

    /// <summary>"primary", "replica1", ...</summary>
    public string Name { get; }

    /// <summary>The node's own directory.</summary>
    public string Root { get; }

    /// <summary>True for the static primary (<c>lease.candidate: true</c>).</summary>
    public bool IsPrimary { get; }

    /// <summary>The node's HTTP API port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The node's own HTTP API URL.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary><c>data.dir</c>.</summary>
    public string DataDir { get; }

    /// <summary><c>fuse.dir</c>.</summary>
    public string MountPoint { get; }

    /// <summary>The generated litefs.yml.</summary>
    public string ConfigPath { get; }

    /// <summary>True while the process of the latest <see cref="Start"/> runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running process's ID (for /proc readings such as its peak memory).</summary>
    public int Pid => _process?.Pid ?? throw new InvalidOperationException($"{Name} is not running");

    /// <summary>The process of the latest run.</summary>
    public ChildProcess Process => _process ?? throw new InvalidOperationException($"{Name} was never started");

    /// <summary>A path in the node's mount.</summary>
    public string Path(string name) => System.IO.Path.Combine(MountPoint, name);

    /// <summary>The database's folder in the data directory.</summary>
    public string DbDir(string name) => System.IO.Path.Combine(DataDir, "dbs", name);

    /// <summary>The raw database file in the data directory.</summary>
    public string DbFile(string name) => System.IO.Path.Combine(DbDir(name), "database");

    /// <summary>The database's LTX folder.</summary>
    public string LtxDir(string name) => System.IO.Path.Combine(DbDir(name), "ltx");

    /// <summary>The names (not paths) of the database's finished LTX files, sorted; temporary files excluded.</summary>
    public string[] LtxFiles(string name) =>
        Directory.Exists(LtxDir(name))
            ? Directory.GetFiles(LtxDir(name), "*.ltx").Select(f => System.IO.Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>
    /// The database's position from <c>NAME-pos</c> in the mount, without the newline
    /// (<c>%016x/%016x</c>); null when the node does not know the database (or is not mounted).
    /// </summary>
    public string? ReadPos(string name)
    {
        try
        {
            return File.ReadAllText(Path(name + "-pos")).TrimEnd('\n');
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Files found in the mount point's own directory at a start (see <see cref="Start"/>).</summary>
    public List<string> MountPointLeftovers { get; } = [];

    /// <summary>Starts <c>litefs mount -config</c> and waits until it reports the mount.</summary>
    public void Start()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is already running (pid {_process!.Pid})");
        }
        RetireProcess();
        _runs++;
        if (!Mounts.IsMounted(MountPoint) && Directory.Exists(MountPoint)
            && Directory.GetFiles(MountPoint) is { Length: > 0 } leftovers)
        {
            // Files in the directory under the mount: written while the node was not mounted
            // there (the mount would hide them from now on).
            MountPointLeftovers.Add($"before run {_runs}: " + string.Join(", ", leftovers.Select(f => $"{System.IO.Path.GetFileName(f)} ({new FileInfo(f).Length} bytes)")));
        }
        _process = LiteFsCommand.Start("mount", "-config", ConfigPath);
        try
        {
            _process.WaitForOutput("LiteFS mounted to", StartTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"{Name} did not mount within {StartTimeout.TotalSeconds} s.\n{Describe()}", ex);
        }
    }

    /// <summary>
    /// Starts <c>litefs mount -config</c> for a run that is expected to end on its own (a refused
    /// start-up) and waits for it to exit; returns the exit code. Its output is <see cref="Process"/>'s.
    /// </summary>
    public int RunToExit()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is already running (pid {_process!.Pid})");
        }
        RetireProcess();
        _runs++;
        _process = LiteFsCommand.Start("mount", "-config", ConfigPath);
        if (!_process.WaitForExit(StartTimeout))
        {
            throw new TimeoutException($"{Name} did not exit within {StartTimeout.TotalSeconds} s.\n{Describe()}");
        }
        if (Mounts.IsMounted(MountPoint))
        {
            Mounts.ForceDetach(MountPoint);
        }
        return _process.ExitCode;
    }

    /// <summary>Stops the node with SIGTERM and waits for a clean exit; returns the exit code.</summary>
    public int Stop()
    {
        var process = Process;
        process.Signal(15);
        if (!process.WaitForExit(StopTimeout))
        {
            throw new TimeoutException($"{Name} did not exit within {StopTimeout.TotalSeconds} s of SIGTERM.\n{Describe()}");
        }
        return process.ExitCode;
    }

    /// <summary>Kills the node with SIGKILL (a crash) and detaches the mount it leaves behind.</summary>
    public void Kill()
    {
        var process = Process;
        process.Signal(9);
        if (!process.WaitForExit(StopTimeout))
        {
            throw new TimeoutException($"{Name} did not die within {StopTimeout.TotalSeconds} s of SIGKILL (pid {process.Pid})");
        }
        Mounts.ForceDetach(MountPoint);
    }

    /// <summary>Stops with SIGTERM (asserting exit code 0) and starts again on the same data.</summary>
    public void Restart()
    {
        var code = Stop();
        Assert.True(code == 0, $"{Name} exited {code} on SIGTERM.\n{Describe()}");
        Start();
    }

    /// <summary>The last <paramref name="lines"/> lines of stdout and of stderr over all runs, for failure messages.</summary>
    /// <remarks>Lines containing <paramref name="omit"/> are left out (noise a test expects by the hundred).</remarks>
    public string Describe(int lines = 40, string? omit = null)
    {
        var stdout = new StringBuilder(_earlierRuns.ToString());
        var stderr = new StringBuilder();
        if (_process is { } process)
        {
            stdout.Append(process.Stdout);
            stderr.Append(process.Stderr);
        }
        var state = _process switch
        {
            null => "never started",
            { HasExited: true } p => $"exited with {p.ExitCode} (run {_runs})",
            var p => $"running, pid {p.Pid} (run {_runs})",
        };
        var role = _leaseYaml is not null ? "candidate" : IsPrimary ? "primary" : "replica";
        return $"--- {Name} ({role}, {Url}, {state}) stdout tail:\n{Tail(Omit(stdout.ToString(), omit), lines)}" +
            $"--- {Name} stderr tail (latest run):\n{Tail(Omit(stderr.ToString(), omit), lines)}";
    }

    private static string Omit(string text, string? omit) =>
        omit is null ? text : string.Join('\n', text.Split('\n').Where(line => !line.Contains(omit, StringComparison.Ordinal)));

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        var start = Math.Max(0, all.Length - lines - 1);
        return string.Join('\n', all[start..]) + (text.EndsWith('\n') ? "" : "\n");
    }

    /// <summary>Keeps a finished run's output (its stderr included) for <see cref="Describe"/>.</summary>
    private void RetireProcess()
    {
        if (_process is null)
        {
            return;
        }
        _earlierRuns.Append(_process.Stdout);
        if (_process.Stderr.Length > 0)
        {
            _earlierRuns.Append("[stderr of run ").Append(_runs).Append("]\n").Append(_process.Stderr);
        }
        var code = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "?";
        _earlierRuns.Append("[run ").Append(_runs).Append(" exited with ").Append(code).Append("]\n");
        _process.Dispose();
        _process = null;
    }

    private string Config(bool isPrimary, string primaryUrl, NodeSettings settings)
    {
        var yaml = new StringBuilder();
        void Line(string text) => yaml.Append(text).Append('\n');
        Line("fuse:");
        Line($"  dir: \"{MountPoint}\"");
        if (Environment.GetEnvironmentVariable("LITEFS_FUSE_DEBUG") is { Length: > 0 })
        {
            // For investigation: every FUSE request and reply in the node's log, with times.
            Line("  debug: true");
            Line("log:");
            Line("  debug: true");
            Line("  timestamp: true");
        }
        Line("data:");
        Line($"  dir: \"{DataDir}\"");
        Line($"  retention-monitor-interval: \"{settings.RetentionMonitorInterval}\"");
        if (settings.Retention is { } retention)
        {
            Line($"  retention: \"{retention}\"");
        }
        if (settings.Compress is { } compress)
        {
            Line($"  compress: {(compress ? "true" : "false")}");
        }
        Line("http:");
        Line($"  addr: \"127.0.0.1:{Port}\"");
        if (settings.SnapshotTimeout is { } snapshotTimeout)
        {
            Line($"  snapshot-timeout: \"{snapshotTimeout}\"");
        }
        if (_leaseYaml is not null)
        {
            yaml.Append(_leaseYaml);
            yaml.Append(settings.Yaml);
            return yaml.ToString();
        }
        // Static lease: on a replica, hostname and advertise-url describe the primary.
        Line("lease:");
        Line("  type: \"static\"");
        Line($"  candidate: {(isPrimary ? "true" : "false")}");
        Line("  hostname: \"primary\"");
        Line($"  advertise-url: \"{primaryUrl}\"");
        if (settings.ReconnectDelay is { } delay)
        {
            Line($"  reconnect-delay: \"{delay}\"");
        }
        yaml.Append(settings.Yaml);
        return yaml.ToString();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Signal(9);
            _process.WaitForExit(StopTimeout);
        }
        _process?.Dispose();
        if (Mounts.IsMounted(MountPoint))
        {
            Mounts.ForceDetach(MountPoint);
        }
    }
}

/// <summary>How a <see cref="Cluster"/> is built.</summary>
public sealed record ClusterOptions
{
    /// <summary>Puts a <see cref="FaultProxy"/> between each replica and the primary (the replica's advertise-url is its proxy).</summary>
    public bool Proxies { get; init; }

    /// <summary>The primary's settings.</summary>
    public NodeSettings Primary { get; init; } = new();

    /// <summary>Every replica's settings.</summary>
    public NodeSettings Replica { get; init; } = new();
}

/// <summary>
/// A static-lease cluster of real processes: one primary and N replicas, each a
/// <see cref="ClusterNode"/> under one temporary directory, optionally each replica behind its
/// own <see cref="FaultProxy"/>. Helpers wait for replication by polling positions and compare
/// the database files; every failure message carries each node's output. Disposing kills every
/// process by PID, detaches mounts and removes the directory.
/// </summary>
public sealed class Cluster : IDisposable
{
    /// <summary>How long catching up may take on a loaded 2-core machine.</summary>
    public static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(30);

    private const string ZeroPos = "0000000000000000/0000000000000000";

    private readonly TempDir _dir;
    private readonly List<ClusterNode> _replicas = [];
    private readonly List<FaultProxy> _proxies = [];

    /// <summary>Creates (but does not start) a primary and <paramref name="replicas"/> replicas.</summary>
    public Cluster(int replicas, ClusterOptions? options = null)
    {
        options ??= new ClusterOptions();
        _dir = new TempDir("litefs-cluster");
        try
        {
            var primaryPort = FreePort.Next();
            Primary = new ClusterNode("primary", _dir.Combine("primary"), true, primaryPort, $"http://127.0.0.1:{primaryPort}", options.Primary);
            for (var i = 1; i <= replicas; i++)
            {
                var url = Primary.Url;
                if (options.Proxies)
                {
                    var proxy = new FaultProxy(primaryPort);
                    _proxies.Add(proxy);
                    url = proxy.Url;
                }
                _replicas.Add(new ClusterNode($"replica{i}", _dir.Combine($"replica{i}"), false, FreePort.Next(), url, options.Replica));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The static primary.</summary>
    public ClusterNode Primary { get; } = null!;

    /// <summary>The replicas, in order.</summary>
    public IReadOnlyList<ClusterNode> Replicas => _replicas;

    /// <summary>The primary, then the replicas.</summary>
    public IEnumerable<ClusterNode> Nodes => [Primary, .. _replicas];

    /// <summary>The proxy in front of the primary for each replica (same order), when built with proxies.</summary>
    public IReadOnlyList<FaultProxy> Proxies => _proxies;

    /// <summary>The proxy the replica goes through.</summary>
    public FaultProxy ProxyOf(ClusterNode replica) =>
        _proxies.Count == 0 ? throw new InvalidOperationException("this cluster has no proxies") : _proxies[_replicas.IndexOf(replica)];

    /// <summary>Starts the primary, then every replica (each waits for its own mount, not for replication).</summary>
    public void Start()
    {
        Primary.Start();
        foreach (var replica in _replicas)
        {
            replica.Start();
        }
    }

    /// <summary>A path in the node's mount.</summary>
    public static string Path(ClusterNode node, string name) => node.Path(name);

    /// <summary>The node's raw database file in its data directory.</summary>
    public static string DbFile(ClusterNode node, string name) => node.DbFile(name);

    /// <summary>The node's position of the database (<c>%016x/%016x</c>), null when unknown there.</summary>
    public static string? ReadPos(ClusterNode node, string name) => node.ReadPos(name);

    /// <summary>The TXID part of a position text.</summary>
    public static ulong TxIdOf(string pos) => ulong.Parse(pos.AsSpan(0, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>The LTX file name covering <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static string LtxName(ulong min, ulong max) => string.Create(CultureInfo.InvariantCulture, $"{min:x16}-{max:x16}.ltx");

    /// <summary>Polls the node's position until it equals <paramref name="expected"/>.</summary>
    public void WaitForPos(ClusterNode node, string name, string expected, TimeSpan? timeout = null)
    {
        expected = expected.TrimEnd('\n');
        var limit = timeout ?? CatchUpTimeout;
        var deadline = DateTime.UtcNow + limit;
        string? seen;
        while ((seen = node.ReadPos(name)) != expected)
        {
            if (DateTime.UtcNow >= deadline)
            {
                Fail($"{node.Name} did not reach position {expected} of {name} within {limit.TotalSeconds} s (it shows {seen ?? "nothing"})");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// Polls until every running replica shows the primary's position of the database and that
    /// position is not zero; returns it. Replicas a test stopped are not waited for.
    /// </summary>
    public string WaitCaughtUp(string name, TimeSpan? timeout = null)
    {
        var limit = timeout ?? CatchUpTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var primary = Primary.ReadPos(name);
            var replicas = _replicas.Where(r => r.IsRunning).Select(r => (r.Name, Pos: r.ReadPos(name))).ToList();
            if (primary is not null && primary != ZeroPos && replicas.All(r => r.Pos == primary)
                && Primary.ReadPos(name) == primary)
            {
                return primary;
            }
            if (DateTime.UtcNow >= deadline)
            {
                Fail($"replicas did not catch up on {name} within {limit.TotalSeconds} s: primary {primary ?? "nothing"}, " +
                    string.Join(", ", replicas.Select(r => $"{r.Name} {r.Pos ?? "nothing"}")));
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>
    /// After the replicas caught up, every running replica's raw database file must equal the
    /// primary's byte for byte. A WAL database is first checkpointed on the primary (through its
    /// mount, <c>PRAGMA wal_checkpoint(TRUNCATE)</c>) so the primary's file holds every page too.
    /// Returns the position compared at.
    /// </summary>
    public string AssertIdentical(string name)
    {
        var pos = WaitCaughtUp(name);
        if (IsWalDatabase(Primary.DbFile(name)))
        {
            var result = Sql.Cli(Primary.Path(name), "PRAGMA wal_checkpoint(TRUNCATE);").Trim();
            if (!result.StartsWith("0|", StringComparison.Ordinal))
            {
                Fail($"the checkpoint on the primary did not complete (busy|log|checkpointed = {result})");
            }
            var after = WaitCaughtUp(name);
            if (after != pos)
            {
                Fail($"the checkpoint moved the position of {name} from {pos} to {after}");
            }
        }
        foreach (var replica in _replicas.Where(r => r.IsRunning))
        {
            if (FirstDifference(Primary.DbFile(name), replica.DbFile(name)) is { } difference)
            {
                Fail($"{replica.Name}'s {name} differs from the primary's at position {pos}: {difference}");
            }
        }
        return pos;
    }

    /// <summary>Throws with <paramref name="message"/> followed by every node's output and every proxy's counters.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Fail(string message)
    {
        Assert.Fail($"{message}\n{Describe()}");
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>Every node's state and output tail, and every proxy's counters.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        foreach (var node in Nodes)
        {
            text.Append(node.Describe());
        }
        foreach (var proxy in _proxies)
        {
            text.Append(proxy).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>True when the database header says WAL (file format bytes 18/19 = 2).</summary>
    public static bool IsWalDatabase(string file)
    {
        using var stream = File.OpenRead(file);
        var header = new byte[20];
        return stream.Read(header) == header.Length && header[18] == 2 && header[19] == 2;
    }

    /// <summary>Null when both files have the same bytes, else where and how they first differ.</summary>
    public static string? FirstDifference(string expectedFile, string actualFile)
    {
        if (!File.Exists(actualFile))
        {
            return $"{actualFile} does not exist";
        }
        using var expected = File.OpenRead(expectedFile);
        using var actual = File.OpenRead(actualFile);
        if (expected.Length != actual.Length)
        {
            return $"{expected.Length} bytes expected, {actual.Length} found";
        }
        var a = new byte[1 << 16];
        var b = new byte[1 << 16];
        long offset = 0;
        while (true)
        {
            var n = expected.ReadAtLeast(a, a.Length, throwOnEndOfStream: false);
            actual.ReadExactly(b, 0, n);
            if (n == 0)
            {
                return null;
            }
            if (!a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n)))
            {
                var at = a.AsSpan(0, n).CommonPrefixLength(b.AsSpan(0, n));
                var position = offset + at;
                return $"first difference at byte {position} (page {position / PageSizeOf(expectedFile) + 1}), " +
                    $"{expected.Length} bytes each";
            }
            offset += n;
        }
    }

    private static int PageSizeOf(string file)
    {
        using var stream = File.OpenRead(file);
        var header = new byte[18];
        if (stream.Read(header) < header.Length)
        {
            return 4096;
        }
        var size = (header[16] << 8) | header[17];
        return size == 1 ? 65536 : Math.Max(size, 512);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var replica in _replicas)
        {
            replica.Dispose();
        }
        foreach (var proxy in _proxies)
        {
            proxy.Dispose();
        }
        Primary?.Dispose();
        try
        {
            _dir.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A mount that could not be detached keeps its directory; test.sh removes stale mounts.
        }
    }
}
