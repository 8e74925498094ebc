using System.Runtime.InteropServices;
using System.Text;
using LiteFs.Fuse.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Fuse;

/// <summary>
/// A mounted FUSE file system: mounting (mount(2) when privileged, fusermount3 otherwise), the
/// reader threads that serve it, cache invalidation, and unmounting on dispose.
/// </summary>
public sealed partial class FuseMount : IDisposable
{
    private static readonly TimeSpan InitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly FuseSession _session;
    private readonly int _fd;
    private readonly ILogger _logger;
    private readonly MountOptions _options;
    private readonly List<PosixSignalRegistration> _signals = [];
    private int _unmounted;
    private int _disposed;

    private FuseMount(string mountPoint, FuseSession session, int fd, bool usedFusermount, MountOptions options, ILogger logger)
    {
        MountPoint = mountPoint;
        _session = session;
        _fd = fd;
        UsedFusermount = usedFusermount;
        _options = options;
        _logger = logger;
    }

    /// <summary>The absolute mount point.</summary>
    public string MountPoint { get; }

    /// <summary>True when fusermount3 made the mount (unprivileged), false for mount(2).</summary>
    public bool UsedFusermount { get; }

    /// <summary>The negotiated protocol minor version (7.x).</summary>
    public int ProtocolMinor => (int)_session.ProtocolMinor;

    /// <summary>The protocol minor version the kernel offered.</summary>
    public int KernelMinor => (int)_session.KernelMinor;

    /// <summary>True when the kernel agreed to passthrough and it still works.</summary>
    public bool PassthroughEnabled => _session.PassthroughEnabled;

    /// <summary>True when POSIX locks are delivered to the file system.</summary>
    public bool PosixLocksEnabled => (_session.Negotiated & Protocol.InitFlags.PosixLocks) != 0;

    /// <summary>How many nodes the kernel currently references (the root included).</summary>
    public int KnownNodes => _session.Nodes.Count;

    /// <summary>How many file handles are open.</summary>
    public int OpenHandles => _session.Handles.Count;

    /// <summary>
    /// Completes when the kernel ends the connection: after <see cref="Unmount"/>, an external
    /// <c>fusermount3 -u</c>/<c>umount</c>, or a signal when <see cref="MountOptions.UnmountOnSignals"/> is set.
    /// </summary>
    public Task Completion => _session.Completed;

    /// <summary>
    /// Mounts <paramref name="root"/> on <paramref name="mountPoint"/> and returns once the kernel has
    /// completed the handshake. A stale mount left at the same place by a killed process is detached first.
    /// </summary>
    /// <exception cref="FuseMountException">Mounting failed; the message says why and what to do.</exception>
    public static FuseMount Mount(string mountPoint, INode root, MountOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        ArgumentNullException.ThrowIfNull(root);
        options ??= new MountOptions();
        options.Validate();
        var logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<FuseMount>();
        var path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        PrepareMountPoint(path, options, logger);

        var (fd, usedFusermount) = OpenAndMount(path, options);
        var session = new FuseSession(fd, root, options, privileged: !usedFusermount);
        var mount = new FuseMount(path, session, fd, usedFusermount, options, logger);
        session.Start();
        try
        {
            if (!session.Initialized.Wait(InitTimeout))
            {
                throw MountErrors.InitTimedOut(path);
            }
            mount.RecordConnectionId();
        }
        catch
        {
            mount.Dispose();
            throw;
        }
        Log.Mounted(logger, path, usedFusermount ? "fusermount3" : "mount(2)");
        if (options.UnmountOnSignals)
        {
            mount.HandleSignals();
        }
        return mount;
    }

    /// <summary>
    /// Whether the calling thread serves FUSE requests (of any mount of this process). Kernel
    /// notifications must not be sent synchronously from such a thread: the kernel may need that
    /// very request answered, or another one this thread would serve, before it acts on them.
    /// </summary>
    public static bool IsRequestThread => FuseSession.IsRequestThread;

    /// <summary>
    /// Tells the kernel to drop cached data of <paramref name="node"/> in [offset, offset+length)
    /// (length 0: to the end; negative offset: attributes only). Call it after changing a file's
    /// contents other than through the mount. Do not call it from inside an operation on the same node.
    /// </summary>
    public Errno InvalidateInode(INode node, long offset = 0, long length = 0) => _session.InvalidateInode(node, offset, length);

    /// <summary>
    /// Tells the kernel to forget the cached name <paramref name="name"/> in <paramref name="parent"/>
    /// (after creating, removing or renaming it other than through the mount). Do not call it from
    /// inside an operation on that directory: the kernel holds the directory's lock then.
    /// </summary>
    public Errno InvalidateEntry(INode parent, ReadOnlySpan<byte> name) => _session.InvalidateEntry(parent, name);

    /// <inheritdoc cref="InvalidateEntry(INode, ReadOnlySpan{byte})"/>
    public Errno InvalidateEntry(INode parent, string name) => _session.InvalidateEntry(parent, Encoding.UTF8.GetBytes(name));

    /// <summary>
    /// Asks the kernel to unmount (lazily when files are still open). Returns without waiting;
    /// <see cref="Completion"/> completes when the connection has ended. From this call on, files
    /// still open can only be closed: any other operation on them fails with ENOTCONN (see
    /// <see cref="FuseSession.Close"/>: with the mount point detached, paths lead to the directory
    /// beneath, and a program must not mix files from both).
    /// </summary>
    public void Unmount()
    {
        if (Interlocked.Exchange(ref _unmounted, 1) != 0)
        {
            return;
        }
        _session.Close();
        try
        {
            UnmountPath(MountPoint, UsedFusermount, _options, _logger);
        }
#pragma warning disable CA1031 // Unmounting is best effort; the reason is logged.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.UnmountFailed(_logger, MountPoint, exception.Message);
        }
    }

    /// <summary>Unmounts, waits for the reader threads to stop, and closes the device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var registration in _signals)
        {
            registration.Dispose();
        }
        if (!Completion.IsCompleted)
        {
            Unmount();
            if (!Completion.Wait(StopTimeout))
            {
                // A lazy unmount with files still open keeps the connection; end it for good.
                AbortConnection();
                _ = Completion.Wait(StopTimeout);
            }
        }
        if (Completion.IsCompleted)
        {
            _ = Libc.Close(_fd);
            Log.Unmounted(_logger, MountPoint);
        }
        else
        {
            Log.UnmountFailed(_logger, MountPoint, "the kernel did not end the connection; the device stays open");
        }
    }

    private void HandleSignals()
    {
        foreach (var signal in (ReadOnlySpan<PosixSignal>)[PosixSignal.SIGINT, PosixSignal.SIGTERM])
        {
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                // The process goes on until the owner sees Completion and disposes the mount.
                context.Cancel = true;
                Log.SignalReceived(_logger, context.Signal.ToString(), MountPoint);
                ThreadPool.UnsafeQueueUserWorkItem(static mount => mount.Unmount(), this, preferLocal: false);
            }));
        }
    }
}
