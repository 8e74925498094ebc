using System.Runtime.InteropServices;
using LiteFs.Fuse.Interop;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed unsafe partial class FuseSession
{
    private int _passthroughWarned;

    private static Errno OnOpen(FuseSession session, ref Exchange exchange)
    {
        var node = session.NodeOf(ref exchange);
        var result = OpenResult.For(null);
        if (node.Node is INodeOpen target)
        {
            var errno = target.Open(exchange.Context, exchange.Arg<OpenIn>().Flags, out result);
            if (errno != Errno.Ok)
            {
                return errno;
            }
        }
        session.WriteOpen(ref exchange.Out<OpenOut>(), node, in result);
        return Errno.Ok;
    }

    private static Errno OnCreate(FuseSession session, ref Exchange exchange)
    {
        if (session.NodeOf(ref exchange).Node is not INodeCreate parent)
        {
            return Errno.ENOSYS;
        }
        ref readonly var request = ref exchange.Arg<CreateIn>();
        var name = exchange.Name(sizeof(CreateIn), out _);
        var errno = parent.Create(exchange.Context, name, request.Flags, request.Mode, request.Umask,
            out var child, out var attributes, out var result);
        if (errno != Errno.Ok)
        {
            return errno;
        }
        var reply = exchange.Reply[..(sizeof(EntryOut) + sizeof(OpenOut))];
        reply.Clear();
        exchange.ReplyLength = reply.Length;
        var node = session.WriteEntry(ref MemoryMarshal.AsRef<EntryOut>(reply), child, attributes);
        session.WriteOpen(ref MemoryMarshal.AsRef<OpenOut>(reply[sizeof(EntryOut)..]), node, in result);
        return Errno.Ok;
    }

    private void WriteOpen(ref OpenOut reply, NodeEntry node, in OpenResult result)
    {
        var flags = (OpenOutFlags)result.Options;
        var backingId = 0;
        var cached = false;
        if (PassthroughEnabled)
        {
            backingId = result.PassthroughFd >= 0 ? AcquireBacking(node, result.PassthroughFd, result.PassthroughOnlyIfInUse) : 0;
            if (backingId > 0)
            {
                // The kernel refuses (EIO at open) any other FOPEN flag beside passthrough, KEEP_CACHE included.
                flags = (flags & (OpenOutFlags.DirectIo | OpenOutFlags.ParallelDirectWrites | OpenOutFlags.NoFlush)) | OpenOutFlags.Passthrough;
            }
            else
            {
                lock (node)
                {
                    node.CachedUsers++;
                }
                cached = true;
            }
        }
        if (result.ClosePassthroughFd && result.PassthroughFd >= 0)
        {
            _ = Libc.Close(result.PassthroughFd);
        }
        var fh = result.Handle is not null || backingId > 0 || cached
            ? Handles.Add(new HandleEntry(result.Handle, node, backingId > 0, cached))
            : 0;
        reply.Fh = fh;
        reply.OpenFlags = flags;
        reply.BackingId = backingId;
    }

    /// <summary>
    /// The backing id for a passthrough open, or 0 to serve the open through the file system. The
    /// kernel keeps one I/O mode per inode: every passthrough open of it must use the same backing
    /// file, none may begin while an open without passthrough is open, and no other may begin
    /// while a passthrough one is. So the id is per node and counted by opens, and an open is
    /// served through the file system while the node has such opens (<see cref="NodeEntry.CachedUsers"/>).
    /// </summary>
    /// <param name="node">The node being opened.</param>
    /// <param name="fd">The file system's descriptor of the real file.</param>
    /// <param name="onlyIfInUse">Use the descriptor only to join passthrough opens of the same file (<see cref="OpenResult.PassthroughOnlyIfInUse"/>).</param>
    private int AcquireBacking(NodeEntry node, int fd, bool onlyIfInUse)
    {
        var file = FileOf(fd);
        lock (node)
        {
            if (node.CachedUsers > 0)
            {
                return 0;
            }
            if (onlyIfInUse && (node.BackingUsers == 0 || node.BackingFile != file))
            {
                return 0;
            }
            if (node.BackingUsers > 0 && node.BackingFile != file)
            {
                // The node names another file now (the old one was removed and a new one made)
                // while opens of the old one are still to be released: their backing must not
                // serve the new file. Releases follow closes closely; wait for them a little.
                var time = _options.TimeProvider;
                var start = time.GetTimestamp();
                while (node.BackingUsers > 0 && time.GetElapsedTime(start) < TimeSpan.FromSeconds(1))
                {
                    Monitor.Wait(node, 10);
                }
                if (node.BackingUsers > 0 || node.CachedUsers > 0)
                {
                    return 0; // served through the file system instead
                }
            }
            if (node.BackingUsers > 0)
            {
                node.BackingUsers++;
                return node.BackingId;
            }
            var map = new BackingMap { Fd = fd };
            var id = Libc.Ioctl(_fd, Abi.DevIocBackingOpen, &map);
            if (id <= 0)
            {
                var errno = (Errno)Libc.LastError;
                if (Interlocked.Exchange(ref _passthroughWarned, 1) == 0)
                {
                    Log.PassthroughUnavailable(_logger, $"FUSE_DEV_IOC_BACKING_OPEN failed: {errno}");
                }
                if (errno is Errno.EPERM or Errno.ENOTTY or Errno.EOPNOTSUPP)
                {
                    PassthroughEnabled = false;
                }
                return 0;
            }
            node.BackingId = id;
            node.BackingUsers = 1;
            node.BackingFile = file;
            return id;
        }
    }

    /// <summary>The device and inode of an open file, or zeros.</summary>
    private static (uint Major, uint Minor, ulong Ino) FileOf(int fd)
    {
        StatxBuffer buffer;
        byte empty = 0;
        return Libc.Statx(fd, &empty, Libc.AtEmptyPath, 0x100 /* STATX_INO */, &buffer) == 0
            ? (buffer.DevMajor, buffer.DevMinor, buffer.Ino)
            : default;
    }

    private static void ReleaseCached(NodeEntry node)
    {
        lock (node)
        {
            node.CachedUsers--;
        }
    }

    private void ReleaseBacking(NodeEntry node)
    {
        lock (node)
        {
            if (--node.BackingUsers == 0)
            {
                var id = node.BackingId;
                node.BackingId = 0;
                node.BackingFile = default;
                _ = Libc.Ioctl(_fd, Abi.DevIocBackingClose, &id);
                Monitor.PulseAll(node);
            }
        }
    }

    private static Errno OnRead(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<ReadIn>();
        if (session.Target(ref exchange, request.Fh) is not IHandleRead handle)
        {
            return Errno.EBADF;
        }
        var size = (int)Math.Min(request.Size, (uint)exchange.Reply.Length);
        var errno = handle.Read(exchange.Context, request.Offset, exchange.Reply[..size], out var read);
        exchange.ReplyLength = Math.Clamp(read, 0, size);
        return errno;
    }

    private static Errno OnWrite(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<WriteIn>();
        if (session.Target(ref exchange, request.Fh) is not IHandleWrite handle)
        {
            return Errno.EBADF;
        }
        var data = exchange.Args[sizeof(WriteIn)..];
        data = data[..(int)Math.Min(request.Size, (uint)data.Length)];
        var errno = handle.Write(exchange.Context, request.Offset, data, out var written);
        if (errno != Errno.Ok)
        {
            return errno;
        }
        exchange.Out<WriteOut>().Size = (uint)written;
        return Errno.Ok;
    }

    private static Errno OnFlush(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<FlushIn>();
        return session.Target(ref exchange, request.Fh) is IHandleFlush handle
            ? handle.Flush(exchange.Context, request.LockOwner)
            : Errno.Ok;
    }

    private static Errno OnFsync(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<FsyncIn>();
        // A handle with nothing to sync reports success. Never ENOSYS: the kernel would take it to
        // mean "no fsync in this file system" and stop sending fsync for every file of the mount.
        return session.Target(ref exchange, request.Fh) is IHandleFsync handle
            ? handle.Fsync(exchange.Context, (request.FsyncFlags & FsyncIn.FlagDataSync) != 0)
            : Errno.Ok;
    }

    private static Errno OnRelease(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<ReleaseIn>();
        if (request.Fh == 0)
        {
            (session.Nodes.Get(exchange.Header.NodeId)?.Node as IHandleRelease)?.Release(exchange.Context);
            return Errno.Ok;
        }
        if (!session.Handles.TryRemove(request.Fh, out var entry))
        {
            return Errno.EBADF;
        }
        try
        {
            (entry.Handle as IHandleRelease ?? (entry.Cached ? entry.Node.Node as IHandleRelease : null))?.Release(exchange.Context);
        }
        finally
        {
            if (entry.Passthrough)
            {
                session.ReleaseBacking(entry.Node);
            }
            else if (entry.Cached)
            {
                ReleaseCached(entry.Node);
            }
        }
        return Errno.Ok;
    }

    private static Errno OnFallocate(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<FallocateIn>();
        return session.Target(ref exchange, request.Fh) is IHandleAllocate handle
            ? handle.Allocate(exchange.Context, request.Offset, request.Length, request.Mode)
            : Errno.EOPNOTSUPP;
    }

    private static Errno OnLSeek(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<LSeekIn>();
        if (session.Target(ref exchange, request.Fh) is not IHandleSeek handle)
        {
            // ENOSYS: the kernel falls back to its generic lseek for SEEK_DATA/SEEK_HOLE.
            return Errno.ENOSYS;
        }
        var errno = handle.Seek(exchange.Context, request.Offset, request.Whence, out var result);
        if (errno == Errno.Ok)
        {
            exchange.Out<LSeekOut>().Offset = result;
        }
        return errno;
    }
}
