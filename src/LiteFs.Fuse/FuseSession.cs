using System.Runtime.InteropServices;
using LiteFs.Fuse.Interop;
using LiteFs.Fuse.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Fuse;

/// <summary>
/// The raw protocol layer: reader threads blocking on the device descriptor, one opcode-indexed
/// handler table, every reply one write(2). Owns the node and handle tables.
/// </summary>
internal sealed unsafe partial class FuseSession
{
    private static readonly int InHeaderSize = sizeof(InHeader);
    private static readonly int OutHeaderSize = sizeof(OutHeader);

    private readonly int _fd;
    private readonly MountOptions _options;
    private readonly ILogger _logger;
    private readonly bool _debug;
    private readonly Reader[] _readers;
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly (ulong Seconds, uint Nanoseconds) _entryValid;
    private readonly (ulong Seconds, uint Nanoseconds) _attrValid;
    private readonly (ulong Seconds, uint Nanoseconds) _negativeValid;
    private int _liveReaders;
    private volatile bool _ready;

    // Set once by Close (the unmount); read by every request thread.
    private volatile bool _closing;

    public FuseSession(int fd, INode root, MountOptions options, bool privileged)
    {
        _fd = fd;
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<FuseSession>();
        _debug = options.Debug && _logger.IsEnabled(LogLevel.Debug);
        Privileged = privileged;
        var rootErrno = root.GetAttributes(default, null, out var rootAttributes);
        Nodes = new NodeTable(root, rootErrno == Errno.Ok ? rootAttributes.Ino : 0);
        _entryValid = Split(options.EntryTimeout);
        _attrValid = Split(options.AttributeTimeout);
        _negativeValid = Split(options.NegativeEntryTimeout);
        // The kernel rejects reads into a buffer that cannot hold the largest write it may send.
        var requestSize = Math.Max(Abi.MinReadBuffer, options.MaxWrite + 4096);
        var replySize = OutHeaderSize + Math.Max(options.MaxRead, 128 * 1024);
        _readers = new Reader[options.ReaderThreads];
        for (var i = 0; i < _readers.Length; i++)
        {
            _readers[i] = new Reader(requestSize, replySize);
        }
    }

    public NodeTable Nodes { get; }

    public HandleTable Handles { get; } = new();

    public bool Privileged { get; }

    /// <summary>Completes when INIT has been answered: the mount is usable.</summary>
    public Task Initialized => _initialized.Task;

    /// <summary>Completes when every reader has stopped: the kernel ended the connection.</summary>
    public Task Completed => _completed.Task;

    public uint ProtocolMinor { get; private set; }

    public uint KernelMinor { get; private set; }

    public InitFlags Negotiated { get; private set; }

    public bool PassthroughEnabled { get; private set; }

    public void Start()
    {
        _liveReaders = _readers.Length;
        for (var i = 0; i < _readers.Length; i++)
        {
            var thread = new Thread(ReaderLoop)
            {
                IsBackground = true,
                Name = $"fuse-reader-{i}",
            };
            thread.UnsafeStart(_readers[i]);
        }
    }

    /// <summary>Set on the threads that serve requests: a notification sent from one may wait for itself.</summary>
    [ThreadStatic]
    private static bool t_servesRequests;

    /// <summary>Whether the calling thread is one of a session's request readers.</summary>
    public static bool IsRequestThread => t_servesRequests;

    private void ReaderLoop(object? state)
    {
        t_servesRequests = true;
        var reader = (Reader)state!;
        try
        {
            while (true)
            {
                nint count;
                fixed (byte* buffer = reader.Request)
                {
                    count = Libc.Read(_fd, buffer, reader.Request.Length);
                }
                if (count < 0)
                {
                    var errno = (Errno)Libc.LastError;
                    // EINTR: a signal; ENOENT: the request was interrupted before we read it; EAGAIN: another reader took it.
                    if (errno is Errno.EINTR or Errno.ENOENT or Errno.EAGAIN)
                    {
                        continue;
                    }
                    if (errno is not Errno.ENODEV and not Errno.EBADF)
                    {
                        Log.ReadFailed(_logger, errno);
                    }
                    return;
                }
                Dispatch(reader, (int)count);
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref _liveReaders) == 0)
            {
                _initialized.TrySetException(new FuseMountException("the kernel closed the FUSE connection before INIT completed", Errno.ENODEV));
                _completed.TrySetResult();
            }
        }
    }

    /// <summary>Writes one reply (header and payload already in the reader's reply buffer) with a single write(2).</summary>
    private void SendReply(Reader reader, ulong unique, Errno errno, int payloadLength)
    {
        var length = OutHeaderSize + (errno == Errno.Ok ? payloadLength : 0);
        ref var header = ref MemoryMarshal.AsRef<OutHeader>(reader.Reply.AsSpan());
        header.Len = (uint)length;
        header.Error = -(int)errno;
        header.Unique = unique;
        if (_debug)
        {
            Log.Reply(_logger, unique, errno, length);
        }
        fixed (byte* buffer = reader.Reply)
        {
            WriteToDevice(buffer, length);
        }
    }

    /// <summary>Writes a reply that completes after its reader moved on (a blocking lock).</summary>
    private void SendDeferredReply(ulong unique, Errno errno, ReadOnlySpan<byte> payload)
    {
        Span<byte> buffer = stackalloc byte[OutHeaderSize + payload.Length];
        var length = OutHeaderSize + (errno == Errno.Ok ? payload.Length : 0);
        ref var header = ref MemoryMarshal.AsRef<OutHeader>(buffer);
        header.Len = (uint)length;
        header.Error = -(int)errno;
        header.Unique = unique;
        payload.CopyTo(buffer[OutHeaderSize..]);
        if (_debug)
        {
            Log.DeferredReply(_logger, unique, errno);
        }
        fixed (byte* pointer = buffer)
        {
            WriteToDevice(pointer, length);
        }
    }

    /// <returns>The errno of the write: ENOENT means the kernel no longer waits for this reply.</returns>
    private Errno WriteToDevice(byte* buffer, int length)
    {
        while (true)
        {
            var written = Libc.Write(_fd, buffer, length);
            if (written >= 0)
            {
                return Errno.Ok;
            }
            var errno = (Errno)Libc.LastError;
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
    }

    private static (ulong, uint) Split(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return (0, 0);
        }
        var ticks = timeout.Ticks;
        return ((ulong)(ticks / TimeSpan.TicksPerSecond), (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }

    /// <summary>
    /// One reader thread's buffers, allocated once on the pinned object heap and written through
    /// at once. The kernel copies each request into the reader's buffer with get_user_pages: on a
    /// page never touched that takes the slow path, which needs the process's mmap lock. A process
    /// that also maps files of its own mount (tests running SQLite next to the file system) can
    /// hold that lock while it waits for the file system (munmap of a dirty shared mapping writes
    /// it back), and the reader would then wait for it forever. Populated pages take the fast,
    /// lockless path.
    /// </summary>
    private sealed class Reader(int requestSize, int replySize)
    {
        public byte[] Request { get; } = Populated(requestSize);

        public byte[] Reply { get; } = Populated(replySize);

        private static byte[] Populated(int size)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(size, pinned: true);
            buffer.AsSpan().Fill(0xA5);
            return buffer;
        }
    }

    /// <summary>
    /// From now on, requests on files still open fail with ENOTCONN, as they would once the
    /// server has gone, except those that end something: forget, release, flush, an unlock,
    /// interrupt, destroy. Called as the mount is taken down: once its mount point no longer leads
    /// here, a program that opened one file before could reach the files beside it by path in the
    /// directory beneath (a database here, its -wal there) and mix the two.
    /// </summary>
    public void Close() => _closing = true;
}
