using System.Diagnostics;
using System.Runtime.InteropServices;
using LiteFs.Cli.Config;
using LiteFs.Cli.Exec;
using LiteFs.Core;
using LiteFs.Core.Leases;
using LiteFs.Core.Replication;
using LiteFs.FileSystem;
using LiteFs.Fuse;
using LiteFs.Http;
using LiteFs.Proxy;

namespace LiteFs.Cli;

/// <summary>
/// <c>litefs mount</c>: loads <c>litefs.yml</c>, opens the store, mounts the file system, runs the
/// <c>exec</c> subprocess once the node is ready, and shuts everything down on SIGINT/SIGTERM or
/// when the subprocess exits (with its exit status).
/// </summary>
internal static partial class MountCommand
{
    private const int SigInt = 2;
    private const int SigTerm = 15;

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var dashDash = args.IndexOf("--");
        var flagArgs = dashDash >= 0 ? args[..dashDash] : args;
        var execWords = dashDash >= 0 ? args[(dashDash + 1)..].ToArray() : [];
        var parsed = ArgParser.Parse("mount", flagArgs, ["config", "dev", "dev-port", "dev-primary"], ["no-expand-env", "skip-unmount", "fuse.debug", "debug", "tracing"]);
        if (parsed.Positional.Count > 0)
        {
            throw new UsageException("too many arguments, specify a '--' to specify an exec command");
        }
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HOSTNAME")))
        {
            Environment.SetEnvironmentVariable("HOSTNAME", Environment.MachineName);
        }

        LiteFsConfig config;
        var lines = ConfigLines.None;
        try
        {
            if (parsed.Value("dev") is { } devRoot)
            {
                var port = 20202;
                if (parsed.Value("dev-port") is { } portText && (!int.TryParse(portText, System.Globalization.CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
                {
                    throw new UsageException($"invalid -dev-port \"{portText}\": want a TCP port number");
                }
                var primaryUrl = parsed.Value("dev-primary");
                if (primaryUrl is not null && !Uri.TryCreate(primaryUrl, UriKind.Absolute, out _))
                {
                    throw new UsageException($"invalid -dev-primary \"{primaryUrl}\": want the primary's URL, e.g. http://127.0.0.1:20202");
                }
                config = LiteFsConfig.Default(devRoot, port, primaryUrl);
                stdout.WriteLine(primaryUrl is null
                    ? $"using the built-in configuration: a primary with its data in {config.Data.Dir}, mounted at {config.Fuse.Dir}, API on {config.Http.Addr}"
                    : $"using the built-in configuration: a replica of {primaryUrl} with its data in {config.Data.Dir}, mounted at {config.Fuse.Dir}, API on {config.Http.Addr}");
            }
            else
            {
                var loaded = ConfigLoader.Load(parsed.Value("config"), !parsed.Flag("no-expand-env", "mount"), Environment.GetEnvironmentVariable);
                (config, lines) = (loaded.Config, loaded.Lines);
                stdout.WriteLine($"config file read from {loaded.Path}");
            }
            config = config with
            {
                Fuse = config.Fuse with { Debug = config.Fuse.Debug || parsed.Flag("fuse.debug", "mount") },
                Log = config.Log with { Debug = config.Log.Debug || parsed.Flag("debug", "mount") },
                // One word after "--" is a whole command line, split as upstream does; several words
                // are kept exactly as given (upstream re-splits them, losing the shell's quoting).
                Exec = execWords.Length switch
                {
                    0 => config.Exec,
                    1 => [new ExecConfig(execWords[0])],
                    _ => [new ExecConfig(ShellWords.Join(execWords))],
                },
            };
            config.Validate(lines);
            config = LeaseSetup.WithOwnIdentity(config);
        }
        catch (ConfigException ex)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return CommandLine.UsageError;
        }

        using var node = new MountedNode(config, parsed.Flag("skip-unmount", "mount"), stdout, stderr);
        return node.Run();
    }

    /// <summary>
    /// One running node: store, mount, subprocess, and the signals that end them. With
    /// <c>skipUnmount</c> (-skip-unmount) a stale mount at fuse.dir is an error rather than detached.
    /// </summary>
    private sealed class MountedNode(LiteFsConfig config, bool skipUnmount, TextWriter stdout, TextWriter stderr) : IDisposable
    {
        private readonly ConsoleLoggerProvider _log = new(stderr, config.Log.Debug, config.Log.Timestamp);
        private readonly TaskCompletionSource<int> _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completed by the store, from the thread that failed, when the node cannot go on writing.</summary>
        private readonly TaskCompletionSource<FatalDatabaseException> _fatal = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Store? _store;
        private LiteFsFileSystem? _fs;
        private NodeServer? _server;
        private ProxyServer? _proxy;
        private NodeClient? _client;
        private ReplicaClient? _replica;
        private ExecRunner? _exec;

        // A lease that moves (Consul, etcd): its backend and the state machine that follows it.
        private ILeaser? _leaser;
        private LeaseMonitor? _monitor;

        /// <summary>The safe-promotion check of a lease that moves (null when switched off); set with <see cref="_monitor"/>.</summary>
        private PromotionGuard? _guard;

        /// <summary>When this node's current write term began (a Stopwatch timestamp): written by role changes, read at shutdown (Interlocked).</summary>
        private long _primarySince;

        public int Run()
        {
            stdout.WriteLine(CommandLine.VersionText);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            try
            {
                Start();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                stderr.WriteLine($"ERROR: {ex.Message}");
                if (config.ExitOnError)
                {
                    Shutdown();
                    return 1;
                }
                // Stay up for inspection until a signal arrives.
                _signal.Task.Wait();
                Shutdown();
                return 0;
            }

            if (_exec?.Background is { } child)
            {
                var exited = child.WaitForExitAsync();
                var which = Task.WaitAny(exited, _signal.Task, _fatal.Task);
                if (which != 0)
                {
                    var signal = which == 1 ? _signal.Task.Result : SigTerm;
                    stdout.WriteLine("sending signal to exec process");
                    _exec.Signal(signal);
                    stdout.WriteLine("waiting for exec process to close");
                    exited.Wait();
                    var code = child.ExitCode;
                    if (which == 2)
                    {
                        return ShutdownAfterFatal();
                    }
                    Shutdown();
                    if (code != 0 && code != 128 + signal)
                    {
                        stderr.WriteLine($"ERROR: cannot wait for exec process: exit status {code}");
                        return 1;
                    }
                    return 0;
                }
                var status = child.ExitCode;
                stdout.WriteLine(status == 0
                    ? "subprocess exited successfully, litefs shutting down"
                    : $"subprocess exited with error code {status}, litefs shutting down");
                Shutdown();
                return status;
            }

            if (Task.WaitAny(_signal.Task, _fatal.Task) == 1)
            {
                return ShutdownAfterFatal();
            }
            stdout.WriteLine("signal received, litefs shutting down");
            Shutdown();
            return 0;
        }

        /// <summary>
        /// A fatal error stopped the node's writes: the node shuts down as on a signal (replicas
        /// get END, the mount is removed, the data directory released) and exits with status 99.
        /// </summary>
        private int ShutdownAfterFatal()
        {
            stderr.WriteLine($"ERROR: {_fatal.Task.Result.Message}; litefs shutting down (exit status {FatalDatabaseException.ExitStatus})");
            Shutdown();
            return FatalDatabaseException.ExitStatus;
        }

        private void Start()
        {
            var mountOptions = new MountOptions
            {
                AllowOther = config.Fuse.AllowOther,
                Debug = config.Fuse.Debug,
                LoggerFactory = _log,
                UseFusermount = Native.GetEuid() != 0,
                DetachStaleMount = !skipUnmount,
            };
            // Nothing has started yet: a node that cannot mount or write its directories stops here.
            StartupChecks.Run(config, mountOptions);

            StaticLease? lease = null;
            if (config.Lease.Type == LeaseConfig.StaticType)
            {
                lease = new StaticLease(config.Lease.Candidate, config.Lease.Hostname, config.Lease.AdvertiseUrl);
            }
            else
            {
                _leaser = LeaseSetup.CreateLeaser(config.Lease, _log);
                _monitor = NewMonitor(_leaser);
            }
            _store = new Store(new StoreOptions
            {
                DataDir = config.Data.Dir,
                Compress = config.Data.Compress,
                Retention = config.Data.Retention,
                RetentionMonitorInterval = config.Data.RetentionMonitorInterval,
                Lease = (ILease?)lease ?? _monitor!,
                MayBecomePrimary = lease is null && config.Lease.Candidate,
                OnFatal = ex => _fatal.TrySetResult(ex),
            }, _log);
            _store.Open();

            try
            {
                Directory.CreateDirectory(config.Fuse.Dir);
            }
            catch (IOException)
            {
                // A stale mount left by a killed node cannot be stat'ed; mounting detects and clears it.
            }
            _fs = new LiteFsFileSystem(_store, _log);
            _fs.Mount(config.Fuse.Dir, mountOptions);
            stdout.WriteLine($"LiteFS mounted to: {config.Fuse.Dir}");

            // Built (and its settings checked) before the node API, which publishes its URL and
            // metrics; started once the node is ready.
            if (config.Proxy.Target.Length > 0)
            {
                _proxy = new ProxyServer(_store, ProxyOptionsFrom(config), _log);
            }

            _server = new NodeServer(_store, new NodeServerOptions
            {
                ProxyUrl = _proxy is null ? null : ProxyOptionsFrom(config).AdvertiseUrl,
                Metrics = _proxy is null ? [] : [_proxy.Metrics],
                Address = config.Http.Addr,
                // Upstream bounds a snapshot by http.snapshot-timeout, or by the retention period.
                SnapshotTimeout = config.Http.SnapshotTimeout > TimeSpan.Zero ? config.Http.SnapshotTimeout : config.Data.Retention,
                Candidate = config.Lease.Candidate,
            }, _log);
            _server.Start();
            stdout.WriteLine($"http server listening on: {_server.Url}");

            if (lease is null)
            {
                StartFollowingTheLease();
                return;
            }
            if (lease.IsPrimary)
            {
                stdout.WriteLine($"primary lease acquired, node {_store.NodeIdText}, cluster {_store.ClusterId}");
            }
            else
            {
                _client = new NodeClient();
                // Write forwarding: the -lock file borrows the primary's HALT lock through it.
                _store.HaltClient = _client;
                _replica = new ReplicaClient(_store, _client, new ReplicaOptions
                {
                    ReconnectDelay = config.Lease.ReconnectDelay,
                    Databases = config.Lease.Databases,
                }, _log);
                _replica.Start();
                stdout.WriteLine($"replica of {lease.AdvertiseUrl} (node {_store.NodeIdText}): connecting");
            }

            if (!lease.IsPrimary && !config.SkipSync)
            {
                stdout.WriteLine("waiting to connect to the primary before running exec (set skip-sync to skip)");
                // Signals still end the wait.
                if (Task.WaitAny(_store.Ready, _signal.Task, _fatal.Task) != 0)
                {
                    return;
                }
                stdout.WriteLine("connected to the primary and caught up: node ready");
            }
            StartApplication();
        }

        /// <summary>Once the node is ready: the proxy, then <c>exec</c>.</summary>
        private void StartApplication()
        {
            if (_proxy is not null)
            {
                _proxy.StartAsync().GetAwaiter().GetResult();
                stdout.WriteLine($"proxy server listening on: {_proxy.EndPoint}");
            }
            if (config.Exec.Count > 0)
            {
                _exec = new ExecRunner();
                _exec.Start([.. config.Exec.Select(e => new ExecEntry(e.Cmd, e.IfCandidate))], config.Lease.Candidate);
            }
        }

        /// <summary>The state machine of a lease that moves, with the store's cluster ID and the safe-promotion check.</summary>
        private LeaseMonitor NewMonitor(ILeaser leaser)
        {
            var guard = config.Lease.SafePromotion
                ? new PromotionGuard(leaser.Self, TimeSpan.FromTicks(Math.Max(LeaseSetup.Ttl(config.Lease).Ticks, 3 * config.Lease.ReconnectDelay.Ticks)), TimeProvider.System,
                    () => _store?.ConnectedPrimaryHostname)
                : null;
            var monitor = new LeaseMonitor(leaser, new LeaseMonitorOptions
            {
                Candidate = config.Lease.Candidate,
                ReconnectDelay = config.Lease.ReconnectDelay,
                DemoteDelay = config.Lease.DemoteDelay,
                // The store exists by the time the monitor runs (it starts after the store opened).
                LocalClusterId = () => _store!.ClusterId,
                AdoptClusterId = id => _store!.SetClusterId(id),
                MayPromote = guard is null ? null : guard.MayPromoteAsync,
                EmptyNodeJoinsFirst = config.Lease.SafePromotion,
                RequestHandoff = (primary, ct) => _client!.HandoffAsync(primary.AdvertiseUrl, _store!.NodeId, ct),
            }, TimeProvider.System, _log);
            if (guard is not null)
            {
                monitor.PrimaryChanged += guard.OnPrimaryChanged;
            }
            _guard = guard;
            return monitor;
        }

        /// <summary>
        /// A lease that moves: the replication loop follows whoever holds it (and idles while this
        /// node does), the monitor takes the lease when it may; the node is ready once it is
        /// primary or caught up with the primary.
        /// </summary>
        private void StartFollowingTheLease()
        {
            var store = _store!;
            var monitor = _monitor!;
            _client = new NodeClient { Candidate = config.Lease.Candidate };
            // Write forwarding: the -lock file borrows the primary's HALT lock through it.
            store.HaltClient = _client;
            _replica = new ReplicaClient(store, _client, new ReplicaOptions
            {
                ReconnectDelay = config.Lease.ReconnectDelay,
                Databases = config.Lease.Databases,
                OnHandoff = leaseId => _ = TakeOverAsync(monitor, leaseId),
                OnCaughtUp = _guard is { } guard ? guard.OnCaughtUp : null,
            }, _log);
            store.Role.Changed += OnRoleChanged;
            monitor.PrimaryChanged += OnPrimaryChanged;
            _replica.Start();
            monitor.Start(store.Role);
            stdout.WriteLine($"{config.Lease.Type} lease: node {store.NodeIdText} as {monitor.Leaser.Self}, candidate={(config.Lease.Candidate ? "true" : "false")}");

            if (!config.SkipSync)
            {
                stdout.WriteLine("waiting to become primary or to catch up with the primary before running exec (set skip-sync to skip)");
                if (Task.WaitAny(store.Ready, _signal.Task, _fatal.Task) != 0)
                {
                    return;
                }
                stdout.WriteLine("node ready");
                if (config.Lease.Promote && config.Lease.Candidate && !store.IsPrimary)
                {
                    try
                    {
                        monitor.RequestPromotionAsync().GetAwaiter().GetResult();
                        stdout.WriteLine("promoted to primary");
                    }
                    catch (Exception ex) when (ex is LeaseException or NodeApiException or HttpRequestException or NotSupportedException)
                    {
                        // As upstream: the run ends (exit status 1, or up until a signal without exit-on-error).
                        throw new LiteFsException($"promote: {ex.Message}", ex);
                    }
                }
                else if (config.Lease.Promote && !config.Lease.Candidate)
                {
                    stdout.WriteLine("node is not a candidate, skipping promotion");
                }
            }
            StartApplication();
        }

        /// <summary>Announces changes of the role (on the thread that made them; must not block).</summary>
        private void OnRoleChanged(RoleChange change)
        {
            var store = _store;
            if (store is null)
            {
                return;
            }
            // The store follows the role itself (lag, readiness, granted HALT locks).
            if (change.Role == Role.Primary && change.CanWrite)
            {
                Interlocked.Exchange(ref _primarySince, Stopwatch.GetTimestamp());
                _replica?.Reconnect();
                stdout.WriteLine($"primary lease acquired, node {store.NodeIdText}, cluster {store.ClusterId}");
            }
            else if (change.Role == Role.Replica)
            {
                stdout.WriteLine($"primary lease lost ({change.Reason}), node {store.NodeIdText}");
            }
        }

        /// <summary>The lease moved: a stream to the former primary is dropped so the replica follows the new one.</summary>
        private void OnPrimaryChanged(PrimaryInfo? primary)
        {
            if (primary is not null && _store is { IsPrimary: false })
            {
                _replica?.Reconnect();
                stdout.WriteLine($"primary is {primary}");
            }
        }

        /// <summary>A HANDOFF frame: this node takes the lease the primary passed it.</summary>
        private async Task TakeOverAsync(LeaseMonitor monitor, string leaseId)
        {
            try
            {
                await monitor.TakeOverAsync(leaseId).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LeaseException or NotSupportedException)
            {
                stderr.WriteLine($"ERROR: cannot take over the handed-off lease: {ex.Message}");
            }
        }

        /// <summary>The proxy's settings from <c>proxy</c>, with the defaults that depend on the environment.</summary>
        private static ProxyOptions ProxyOptionsFrom(LiteFsConfig config)
        {
            var p = config.Proxy;
            var mode = p.ForwardMode.Length > 0
                ? p.ForwardMode
                : string.IsNullOrEmpty(Environment.GetEnvironmentVariable("FLY_APP_NAME")) ? ProxyConfig.ForwardModeProxy : ProxyConfig.ForwardModeFlyReplay;
            return new ProxyOptions
            {
                Address = p.Addr,
                Target = p.Target,
                Db = p.Db,
                MaxLag = p.MaxLag,
                Debug = p.Debug,
                Passthrough = p.Passthrough,
                AlwaysForward = p.AlwaysForward,
                ReadUpgrades = p.ReadUpgrades,
                PrimaryRedirectTimeout = p.PrimaryRedirectTimeout,
                ReadTimeout = p.ReadTimeout,
                ReadHeaderTimeout = p.ReadHeaderTimeout,
                WriteTimeout = p.WriteTimeout,
                IdleTimeout = p.IdleTimeout,
                DialTimeout = p.DialTimeout,
                ForwardMode = mode == ProxyConfig.ForwardModeFlyReplay ? ForwardMode.FlyReplay : ForwardMode.Proxy,
                // A static lease's advertise-url is this node's own only on the candidate.
                AdvertiseUrl = p.AdvertiseUrl.Length > 0 ? p.AdvertiseUrl
                    : config.Lease.Candidate ? ProxyOptions.DeriveAdvertiseUrl(config.Lease.AdvertiseUrl, p.Addr) : null,
            };
        }

        private void OnSignal(PosixSignalContext context)
        {
            // The node decides how to stop: keep the runtime from terminating the process.
            context.Cancel = true;
            _signal.TrySetResult(context.Signal == PosixSignal.SIGINT ? SigInt : SigTerm);
        }

        private void Shutdown()
        {
            // The proxy stops taking requests first; then streams end (replicas get END), then
            // the replication loop, then the mount.
            try
            {
                _proxy?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
            }
            catch (AggregateException ex)
            {
                stderr.WriteLine($"ERROR: cannot stop the proxy server: {ex.InnerException?.Message}");
            }
            _proxy = null;
            // A primary hands its lease to a candidate replica, which gets every transaction first.
            if (_server is not null && _store is { IsPrimary: true } && _monitor is not null)
            {
                try
                {
                    using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    // Replicas connect to a new primary within a few reconnect delays: one stopped
                    // sooner waits that long for a candidate's stream, or what it acknowledged in
                    // its term would be on this node alone once another takes the lease.
                    var settle = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(2).Ticks, 3 * config.Lease.ReconnectDelay.Ticks));
                    var waitUntil = Interlocked.Read(ref _primarySince) + (long)(settle.TotalSeconds * Stopwatch.Frequency);
                    string? target;
                    while ((target = _server.HandOffToCandidateAsync(bounded.Token).GetAwaiter().GetResult()) is null
                        && _store.IsPrimary && Stopwatch.GetTimestamp() < waitUntil)
                    {
                        Thread.Sleep(50);
                    }
                    if (target is not null)
                    {
                        stdout.WriteLine($"primary lease handed off to node {target}");
                    }
                }
                catch (Exception ex) when (ex is LeaseException or OperationCanceledException)
                {
                    stderr.WriteLine($"ERROR: cannot hand the primary lease off: {ex.Message}");
                }
            }
            // The node stops writing, then gives the lease up (unless handed off), so another node takes over at once.
            try
            {
                _monitor?.StopAsync().Wait(TimeSpan.FromSeconds(15));
            }
            catch (AggregateException ex)
            {
                stderr.WriteLine($"ERROR: cannot stop the lease monitor: {ex.InnerException?.Message}");
            }
            try
            {
                _server?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
            }
            catch (AggregateException ex)
            {
                stderr.WriteLine($"ERROR: cannot stop the http server: {ex.InnerException?.Message}");
            }
            _server = null;
            _replica?.Dispose();
            _replica = null;
            _client?.Dispose();
            _client = null;
            try
            {
                _fs?.Unmount();
            }
            catch (FuseException ex)
            {
                stderr.WriteLine($"ERROR: cannot unmount {config.Fuse.Dir}: {ex.Message}");
            }
            _fs?.Dispose();
            _fs = null;
            _store?.Dispose();
            _store = null;
            _monitor?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
            _monitor = null;
            _leaser?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
            _leaser = null;
        }

        public void Dispose()
        {
            Shutdown();
            _exec?.Dispose();
        }
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "geteuid")]
        public static partial uint GetEuid();
    }
}
