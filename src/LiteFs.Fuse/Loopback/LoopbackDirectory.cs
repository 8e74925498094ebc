using System.Buffers.Binary;
using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse.Loopback;

/// <summary>An open mirrored directory, read with getdents64(2); its d_off cookies are the FUSE offsets.</summary>
internal sealed unsafe class LoopbackDirectory : IDirectoryHandle, IHandleRelease, IHandleFsync
{
    // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).
    private const int NameOffset = 19;

    private readonly LoopbackNode _node;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(32 * 1024, pinned: true);
    private readonly Lock _lock = new();
    private int _fd;
    private int _filled;
    private int _position;
    private long _offset;

    public LoopbackDirectory(LoopbackNode node, int fd)
    {
        _node = node;
        _fd = fd;
    }

    public Errno ReadDirectory(FuseContext context, long offset, ref DirectoryWriter writer)
    {
        lock (_lock)
        {
            if (offset != _offset)
            {
                if (Libc.LSeek(_fd, offset, Libc.SeekSet) < 0)
                {
                    return (Errno)Libc.LastError;
                }
                _filled = _position = 0;
                _offset = offset;
            }
            while (true)
            {
                if (_position >= _filled)
                {
                    nint count;
                    fixed (byte* buffer = _buffer)
                    {
                        count = Libc.GetDents64(_fd, buffer, _buffer.Length);
                    }
                    if (count < 0)
                    {
                        return writer.Length > 0 ? Errno.Ok : (Errno)Libc.LastError;
                    }
                    if (count == 0)
                    {
                        return Errno.Ok;
                    }
                    _filled = (int)count;
                    _position = 0;
                }
                var record = _buffer.AsSpan(_position, _filled - _position);
                var ino = BinaryPrimitives.ReadUInt64LittleEndian(record);
                var next = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
                var length = BinaryPrimitives.ReadUInt16LittleEndian(record[16..]);
                var type = record[18];
                var nameWithNul = record[NameOffset..length];
                nameWithNul = nameWithNul[..(nameWithNul.IndexOf((byte)0) + 1)];
                if (!Add(context, ref writer, new FileName(nameWithNul), ino, type, next))
                {
                    // Full: the kernel asks again from this entry's offset, which is where we stand.
                    return Errno.Ok;
                }
                _position += length;
                _offset = next;
            }
        }
    }

    private bool Add(FuseContext context, ref DirectoryWriter writer, FileName name, ulong ino, byte type, long next)
    {
        if (!writer.IsPlus || name.IsDotOrDotDot)
        {
            return writer.TryAdd(name.Bytes, ino, type, next);
        }
        if (_node.Lookup(context, name, out var child, out var attributes) != Errno.Ok)
        {
            // Gone since getdents: list the name alone and let a later lookup decide.
            return writer.TryAdd(name.Bytes, ino, type, next);
        }
        return writer.TryAddPlus(name.Bytes, child, in attributes, next);
    }

    public Errno Fsync(FuseContext context, bool dataOnly) =>
        (dataOnly ? Libc.FDataSync(_fd) : Libc.FSync(_fd)) == 0 ? Errno.Ok : (Errno)Libc.LastError;

    public void Release(FuseContext context)
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Libc.Close(fd);
        }
    }
}
