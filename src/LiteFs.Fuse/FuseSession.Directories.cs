using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed unsafe partial class FuseSession
{
    private static Errno OnOpenDir(FuseSession session, ref Exchange exchange)
    {
        var node = session.NodeOf(ref exchange);
        IDirectoryHandle? handle = null;
        var options = OpenOptions.None;
        if (node.Node is INodeOpenDirectory target)
        {
            var errno = target.OpenDirectory(exchange.Context, exchange.Arg<OpenIn>().Flags, out handle, out options);
            if (errno != Errno.Ok)
            {
                return errno;
            }
        }
        else if (node.Node is not IDirectoryHandle)
        {
            return Errno.ENOTDIR;
        }
        ref var reply = ref exchange.Out<OpenOut>();
        reply.Fh = handle is null ? 0 : session.Handles.Add(new HandleEntry(handle, node, false));
        reply.OpenFlags = (OpenOutFlags)options;
        return Errno.Ok;
    }

    private static Errno OnReadDir(FuseSession session, ref Exchange exchange) => session.ReadDirectory(ref exchange, plus: false);

    private static Errno OnReadDirPlus(FuseSession session, ref Exchange exchange) => session.ReadDirectory(ref exchange, plus: true);

    private Errno ReadDirectory(ref Exchange exchange, bool plus)
    {
        ref readonly var request = ref exchange.Arg<ReadIn>();
        if (Target(ref exchange, request.Fh) is not IDirectoryHandle handle)
        {
            return Errno.EBADF;
        }
        var size = (int)Math.Min(request.Size, (uint)exchange.Reply.Length);
        var writer = new DirectoryWriter(this, exchange.Reply[..size], plus);
        var errno = handle.ReadDirectory(exchange.Context, request.Offset, ref writer);
        exchange.ReplyLength = writer.Length;
        return errno;
    }

    /// <summary>Registers a readdirplus child and fills its entry; the writer checked the space.</summary>
    internal void WriteDirectoryEntryPlus(ref EntryOut entry, INode? node, in FileAttributes attributes)
    {
        if (node is null)
        {
            // Node id 0: the kernel takes the name only, no attributes and no reference.
            entry = default;
            entry.Attr.Ino = attributes.Ino;
            entry.Attr.Mode = attributes.Mode;
            return;
        }
        _ = WriteEntry(ref entry, node, attributes);
    }

    internal void DiscardCandidate(INode node) => Nodes.Discard(node);
}

/// <summary>
/// Fills a READDIR or READDIRPLUS reply with directory entries, straight into the reply buffer.
/// </summary>
public unsafe ref struct DirectoryWriter
{
    private readonly FuseSession _session;
    private readonly Span<byte> _buffer;
    private int _length;

    internal DirectoryWriter(FuseSession session, Span<byte> buffer, bool plus)
    {
        _session = session;
        _buffer = buffer;
        IsPlus = plus;
    }

    /// <summary>True for READDIRPLUS: entries should carry nodes and attributes (<see cref="TryAddPlus"/>).</summary>
    public bool IsPlus { get; }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>
    /// Adds a name without attributes. In READDIRPLUS mode the entry carries no node, and the kernel
    /// looks the name up when it needs it.
    /// </summary>
    /// <param name="name">The entry's name (UTF-8, no NUL).</param>
    /// <param name="ino">Its inode number.</param>
    /// <param name="type">Its DT_* type (<see cref="FileModes.ToDirentType"/>).</param>
    /// <param name="nextOffset">The offset that continues the listing after this entry (non-zero).</param>
    /// <returns>False when the reply is full: stop, the kernel asks again from the last added entry's next offset.</returns>
    public bool TryAdd(ReadOnlySpan<byte> name, ulong ino, uint type, long nextOffset)
    {
        if (IsPlus)
        {
            var attributes = new FileAttributes { Ino = ino, Mode = type << 12 };
            return TryAddPlus(name, null, in attributes, nextOffset);
        }
        var record = Align(sizeof(Dirent) + name.Length);
        if (_length + record > _buffer.Length)
        {
            return false;
        }
        var target = _buffer.Slice(_length, record);
        WriteDirent(target, name, ino, type, nextOffset);
        _length += record;
        return true;
    }

    /// <summary>
    /// Adds a name with its node and attributes (READDIRPLUS). The node is handled as a lookup
    /// result: the kernel gains a reference to it, or, when the entry does not fit or this is plain
    /// READDIR, it is discarded as an unused lookup candidate would be.
    /// </summary>
    /// <param name="name">The entry's name (UTF-8, no NUL).</param>
    /// <param name="node">The child node, or null for "." and "..".</param>
    /// <param name="attributes">The child's attributes.</param>
    /// <param name="nextOffset">The offset that continues the listing after this entry (non-zero).</param>
    /// <returns>False when the reply is full.</returns>
    public bool TryAddPlus(ReadOnlySpan<byte> name, INode? node, in FileAttributes attributes, long nextOffset)
    {
        if (!IsPlus)
        {
            if (node is not null)
            {
                _session.DiscardCandidate(node);
            }
            return TryAdd(name, attributes.Ino, FileModes.ToDirentType(attributes.Mode), nextOffset);
        }
        var record = Align(sizeof(EntryOut) + sizeof(Dirent) + name.Length);
        if (_length + record > _buffer.Length)
        {
            if (node is not null)
            {
                _session.DiscardCandidate(node);
            }
            return false;
        }
        var target = _buffer.Slice(_length, record);
        target.Clear();
        ref var entry = ref System.Runtime.InteropServices.MemoryMarshal.AsRef<EntryOut>(target);
        _session.WriteDirectoryEntryPlus(ref entry, node, in attributes);
        var ino = entry.Attr.Ino;
        WriteDirent(target[sizeof(EntryOut)..], name, ino, FileModes.ToDirentType(attributes.Mode), nextOffset);
        _length += record;
        return true;
    }

    private static void WriteDirent(Span<byte> target, ReadOnlySpan<byte> name, ulong ino, uint type, long nextOffset)
    {
        ref var dirent = ref System.Runtime.InteropServices.MemoryMarshal.AsRef<Dirent>(target);
        dirent.Ino = ino;
        dirent.Off = (ulong)nextOffset;
        dirent.NameLen = (uint)name.Length;
        dirent.Type = type;
        name.CopyTo(target[sizeof(Dirent)..]);
        // Padding bytes must be zero: the kernel copies the record as is.
        target[(sizeof(Dirent) + name.Length)..].Clear();
    }

    private static int Align(int size) => (size + 7) & ~7;
}
