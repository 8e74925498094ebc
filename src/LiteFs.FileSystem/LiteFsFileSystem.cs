using System.Collections.Concurrent;
using LiteFs.Core;
using LiteFs.Fuse;
using Microsoft.Extensions.Logging;

namespace LiteFs.FileSystem;

/// <summary>
/// The LiteFS mount: presents a store's databases, with their journal, WAL, SHM, position and
/// lock files, and the node's <c>.lag</c> and <c>.primary</c>, through a FUSE mount. It is also
/// the store's cache invalidator: changes the node makes behind SQLite's back reach the kernel.
/// </summary>
public sealed class LiteFsFileSystem : ICacheInvalidator, IDisposable
{
    private readonly ConcurrentDictionary<(string Database, EntryKind Kind), EntryNode> _nodes = new();
    private readonly ConcurrentDictionary<string, ulong> _databaseIndex = new(StringComparer.Ordinal);
    private readonly object _notifySync = new();
    private Task _notifications = Task.CompletedTask;
    private FuseMount? _mount;
    private long _nextIndex;

    /// <summary>
    /// Creates the file system for <paramref name="store"/>; <see cref="Mount"/> makes it visible.
    /// The FUSE library logs through <paramref name="loggerFactory"/> unless the mount options name another.
    /// </summary>
    public LiteFsFileSystem(Store store, ILoggerFactory? loggerFactory = null)
    {
        Store = store;
        LoggerFactory = loggerFactory;
        Log = (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<LiteFsFileSystem>();
        Root = new RootNode(this);
        Started = Timespec.Now;
        Uid = Native.GetUid();
        Gid = Native.GetGid();
    }

    internal Store Store { get; }

    internal ILoggerFactory? LoggerFactory { get; }

    /// <summary>The file system's own log (its category).</summary>
    internal ILogger Log { get; }

    internal RootNode Root { get; }

    /// <summary>When the process started: the time most entries report.</summary>
    internal Timespec Started { get; }

    internal uint Uid { get; }

    internal uint Gid { get; }

    /// <summary>The mount point, once mounted.</summary>
    public string? MountPoint => _mount?.MountPoint;

    /// <summary>Whether the kernel serves the primary's WAL straight from the real file (FUSE passthrough).</summary>
    internal bool PassthroughEnabled => _mount?.PassthroughEnabled == true;

    /// <summary>Completes when the file system is unmounted.</summary>
    public Task Completion => _mount?.Completion ?? Task.CompletedTask;

    /// <summary>Mounts at <paramref name="mountPoint"/> and makes this the store's cache invalidator.</summary>
    public void Mount(string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ExceptionMapper ??= Errors.ToErrno;
        options.LoggerFactory ??= LoggerFactory;
        // Every file's attributes are fresh on each stat: sizes and positions change behind the kernel's back.
        options.AttributeTimeout = TimeSpan.Zero;
        options.EntryTimeout = TimeSpan.FromMinutes(1);
        options.PosixLocks = true;
        // The primary's WAL is read and written by the kernel straight from the real file where
        // FUSE passthrough is available (root, Linux 6.9+): the node reads committed frames from
        // that file itself, so it needs no round trip per frame. Only root may open backing files:
        // another user is served through the file system without asking (and without a warning).
        options.Passthrough = Native.GetEUid() == 0;
        _mount = FuseMount.Mount(mountPoint, Root, options);
        Store.Invalidator = this;
    }

    /// <summary>Unmounts.</summary>
    public void Unmount()
    {
        Store.Invalidator = NullCacheInvalidator.Instance;
        FlushNotificationsAsync().Wait(TimeSpan.FromSeconds(5));
        _mount?.Unmount();
    }

    /// <summary>The node of a database entry, the same object every time so the kernel and invalidation agree.</summary>
    internal EntryNode NodeFor(string database, EntryKind kind) =>
        _nodes.GetOrAdd((database, kind), static (key, fs) => key.Kind switch
        {
            EntryKind.Pos => new PosNode(fs, key.Database),
            EntryKind.Lock => new LockNode(fs, key.Database),
            EntryKind.Lag => new LagNode(fs),
            EntryKind.Primary => new PrimaryNode(fs),
            _ => new DbFileNode(fs, key.Database, key.Kind),
        }, this);

    /// <summary>
    /// A stable inode number per entry: 1 is the root, 2 and 3 the special files, and each
    /// database gets a block of 8 in the order the node first sees it.
    /// </summary>
    internal ulong InodeOf(string database, EntryKind kind) => kind switch
    {
        EntryKind.Lag => 2,
        EntryKind.Primary => 3,
        _ => 16 + (_databaseIndex.GetOrAdd(database, _ => (ulong)Interlocked.Increment(ref _nextIndex)) * 8) + (ulong)kind,
    };

    // The kernel handles a notification under the locks of the inode or directory it names; sent
    // from inside a request on that inode (an unlink, a write) it would wait for itself. So
    // notifications are queued and sent by one background task, in order.
    void ICacheInvalidator.InvalidateData(string database, DbFileKind kind, long offset, long length)
    {
        if (_mount is { } mount && _nodes.TryGetValue((database, (EntryKind)kind), out var node))
        {
            Enqueue(() => mount.InvalidateInode(node, offset, length < 0 ? 0 : length));
        }
    }

    void ICacheInvalidator.InvalidateEntry(string name)
    {
        // Position, lag and primary files are read with direct I/O and stat'ed without caching:
        // only real directory entries need telling.
        var (kind, database) = Names.Parse(name);
        if (_mount is { } mount && kind is EntryKind.Database or EntryKind.Journal or EntryKind.Wal or EntryKind.Shm)
        {
            var entry = Names.Of(database, kind);
            Enqueue(() => mount.InvalidateEntry(Root, entry));
        }
    }

    void ICacheInvalidator.Flush() => FlushNotificationsAsync().Wait();

    private void Enqueue(Func<Errno> notify)
    {
        // Off the request threads (applying replicated files) and with nothing queued, a
        // notification is sent at once (outside the lock: the kernel may need requests answered
        // that queue notifications themselves): no thread hop between a change and the kernel
        // knowing of it. Invalidations only drop caches, so their order does not matter.
        if (!FuseMount.IsRequestThread)
        {
            bool idle;
            lock (_notifySync)
            {
                idle = _notifications.IsCompleted;
            }
            if (idle)
            {
                notify();
                return;
            }
        }
        lock (_notifySync)
        {
            _notifications = _notifications.ContinueWith(_ => notify(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    /// <summary>Waits until every queued kernel notification has been sent.</summary>
    internal Task FlushNotificationsAsync()
    {
        lock (_notifySync)
        {
            return _notifications;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Store.Invalidator = NullCacheInvalidator.Instance;
        _mount?.Dispose();
        _mount = null;
    }
}
