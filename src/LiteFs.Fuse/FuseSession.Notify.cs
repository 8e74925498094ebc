using System.Runtime.InteropServices;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed unsafe partial class FuseSession
{
    /// <summary>FUSE_NOTIFY_INVAL_INODE: drops cached pages in [offset, offset+length) (length 0 = to the end) and cached attributes.</summary>
    public Errno InvalidateInode(INode node, long offset, long length)
    {
        if (!Nodes.TryGetId(node, out var id))
        {
            return Errno.Ok;
        }
        Span<byte> buffer = stackalloc byte[sizeof(OutHeader) + sizeof(NotifyInvalInodeOut)];
        ref var header = ref MemoryMarshal.AsRef<OutHeader>(buffer);
        header.Len = (uint)buffer.Length;
        header.Error = (int)NotifyCode.InvalInode;
        header.Unique = 0;
        ref var body = ref MemoryMarshal.AsRef<NotifyInvalInodeOut>(buffer[sizeof(OutHeader)..]);
        body.Ino = id;
        body.Off = offset;
        body.Len = length;
        return Notify(buffer);
    }

    /// <summary>FUSE_NOTIFY_INVAL_ENTRY: drops the cached binding of <paramref name="name"/> in <paramref name="parent"/>.</summary>
    public Errno InvalidateEntry(INode parent, ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > 1024)
        {
            return Errno.EINVAL;
        }
        if (!Nodes.TryGetId(parent, out var id))
        {
            return Errno.Ok;
        }
        var size = sizeof(OutHeader) + sizeof(NotifyInvalEntryOut) + name.Length + 1;
        Span<byte> buffer = stackalloc byte[sizeof(OutHeader) + sizeof(NotifyInvalEntryOut) + 1025];
        buffer = buffer[..size];
        ref var header = ref MemoryMarshal.AsRef<OutHeader>(buffer);
        header.Len = (uint)size;
        header.Error = (int)NotifyCode.InvalEntry;
        header.Unique = 0;
        ref var body = ref MemoryMarshal.AsRef<NotifyInvalEntryOut>(buffer[sizeof(OutHeader)..]);
        body.Parent = id;
        body.NameLen = (uint)name.Length;
        body.Flags = 0;
        name.CopyTo(buffer[(sizeof(OutHeader) + sizeof(NotifyInvalEntryOut))..]);
        buffer[^1] = 0;
        return Notify(buffer);
    }

    private Errno Notify(Span<byte> message)
    {
        if (!_ready)
        {
            return Errno.ENOTCONN;
        }
        Errno errno;
        fixed (byte* pointer = message)
        {
            errno = WriteToDevice(pointer, message.Length);
        }
        // ENOENT: the kernel has nothing cached for it, which is what we wanted.
        return errno == Errno.ENOENT ? Errno.Ok : errno;
    }
}
