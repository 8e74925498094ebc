using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse.Loopback;

/// <summary>An open mirrored file: a real descriptor, with the node's in-memory POSIX locks.</summary>
internal sealed unsafe class LoopbackFile :
    IHandleRead, IHandleWrite, IHandleFlush, IHandleFsync, IHandleRelease, IHandleLocks, IHandleAllocate, IHandleSeek
{
    private readonly LoopbackNode _node;

    public LoopbackFile(LoopbackNode node, int fd)
    {
        _node = node;
        Fd = fd;
    }

    public int Fd { get; private set; }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        var total = 0;
        fixed (byte* pointer = buffer)
        {
            // A regular file returns short counts only at its end, but a signal can cut a read short.
            while (total < buffer.Length)
            {
                var count = Libc.PRead(Fd, pointer + total, buffer.Length - total, offset + total);
                if (count < 0)
                {
                    var errno = (Errno)Libc.LastError;
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }
                    bytesRead = total;
                    return total > 0 ? Errno.Ok : errno;
                }
                if (count == 0)
                {
                    break;
                }
                total += (int)count;
            }
        }
        bytesRead = total;
        return Errno.Ok;
    }

    public Errno Write(FuseContext context, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        nint count;
        fixed (byte* pointer = data)
        {
            do
            {
                count = Libc.PWrite(Fd, pointer, data.Length, offset);
            }
            while (count < 0 && Libc.LastError == (int)Errno.EINTR);
        }
        bytesWritten = (int)Math.Max(count, 0);
        return count < 0 ? (Errno)Libc.LastError : Errno.Ok;
    }

    public Errno Flush(FuseContext context, ulong lockOwner)
    {
        // close(2) of any descriptor drops the closing process's record locks on the file.
        _node.Locks.ReleaseOwner(lockOwner);
        return Errno.Ok;
    }

    public Errno Fsync(FuseContext context, bool dataOnly) =>
        (dataOnly ? Libc.FDataSync(Fd) : Libc.FSync(Fd)) == 0 ? Errno.Ok : (Errno)Libc.LastError;

    public void Release(FuseContext context)
    {
        var fd = Fd;
        Fd = -1;
        if (fd >= 0)
        {
            _ = Libc.Close(fd);
        }
    }

    public Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict)
    {
        conflict = _node.Locks.Test(in request);
        return Errno.Ok;
    }

    public ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken) =>
        _node.Locks.SetAsync(request, wait, cancellationToken);

    public Errno Allocate(FuseContext context, long offset, long length, int mode) =>
        Libc.FAllocate(Fd, mode, offset, length) == 0 ? Errno.Ok : (Errno)Libc.LastError;

    public Errno Seek(FuseContext context, long offset, int whence, out long result)
    {
        result = Libc.LSeek(Fd, offset, whence);
        return result < 0 ? (Errno)Libc.LastError : Errno.Ok;
    }
}
