using System.Runtime.InteropServices;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed unsafe partial class FuseSession
{
    private static Errno OnLookup(FuseSession session, ref Exchange exchange)
    {
        if (session.NodeOf(ref exchange).Node is not INodeLookup parent)
        {
            return Errno.ENOTDIR;
        }
        var name = exchange.Name(0, out _);
        var errno = parent.Lookup(exchange.Context, name, out var child, out var attributes);
        if (errno == Errno.ENOENT && session._negativeValid.Seconds + session._negativeValid.Nanoseconds > 0)
        {
            // A reply with node id 0 lets the kernel cache the absence of the name.
            ref var negative = ref exchange.Out<EntryOut>();
            negative.EntryValid = session._negativeValid.Seconds;
            negative.EntryValidNsec = session._negativeValid.Nanoseconds;
            return Errno.Ok;
        }
        if (errno != Errno.Ok)
        {
            return errno;
        }
        _ = session.WriteEntry(ref exchange.Out<EntryOut>(), child, attributes);
        return Errno.Ok;
    }

    /// <summary>Registers <paramref name="child"/> (one more kernel reference) and fills an entry reply.</summary>
    private NodeEntry WriteEntry(ref EntryOut entry, INode? child, in FileAttributes attributes)
    {
        if (child is null)
        {
            throw new InvalidOperationException("A node operation reported success without a node.");
        }
        var node = Nodes.Register(child, attributes.Ino);
        entry.NodeId = node.Id;
        entry.Generation = 0;
        entry.EntryValid = _entryValid.Seconds;
        entry.EntryValidNsec = _entryValid.Nanoseconds;
        entry.AttrValid = _attrValid.Seconds;
        entry.AttrValidNsec = _attrValid.Nanoseconds;
        ToAbi(in attributes, node.Id, ref entry.Attr);
        return node;
    }

    private static void ToAbi(in FileAttributes source, ulong nodeId, ref Attr target)
    {
        target.Ino = source.Ino != 0 ? source.Ino : nodeId;
        target.Size = source.Size;
        target.Blocks = source.Blocks;
        target.ATime = (ulong)source.ATime.Seconds;
        target.ATimeNsec = source.ATime.Nanoseconds;
        target.MTime = (ulong)source.MTime.Seconds;
        target.MTimeNsec = source.MTime.Nanoseconds;
        target.CTime = (ulong)source.CTime.Seconds;
        target.CTimeNsec = source.CTime.Nanoseconds;
        target.Mode = source.Mode;
        target.NLink = source.NLink;
        target.Uid = source.Uid;
        target.Gid = source.Gid;
        target.RDev = source.RDev;
        target.BlkSize = source.BlockSize;
        target.Flags = 0;
    }

    private Errno ReplyAttributes(ref Exchange exchange, ulong nodeId, in FileAttributes attributes)
    {
        ref var reply = ref exchange.Out<AttrOut>();
        reply.AttrValid = _attrValid.Seconds;
        reply.AttrValidNsec = _attrValid.Nanoseconds;
        ToAbi(in attributes, nodeId, ref reply.Attr);
        return Errno.Ok;
    }

    private static Errno OnForget(FuseSession session, ref Exchange exchange)
    {
        exchange.NoReply = true;
        session.Nodes.Forget(exchange.Header.NodeId, exchange.Arg<ForgetIn>().NLookup);
        return Errno.Ok;
    }

    private static Errno OnBatchForget(FuseSession session, ref Exchange exchange)
    {
        exchange.NoReply = true;
        var count = (int)exchange.Arg<BatchForgetIn>().Count;
        var items = MemoryMarshal.Cast<byte, ForgetOne>(exchange.Args[sizeof(BatchForgetIn)..]);
        foreach (ref readonly var item in items[..Math.Min(count, items.Length)])
        {
            session.Nodes.Forget(item.NodeId, item.NLookup);
        }
        return Errno.Ok;
    }

    private static Errno OnGetAttr(FuseSession session, ref Exchange exchange)
    {
        var node = session.NodeOf(ref exchange);
        ref readonly var request = ref exchange.Arg<GetAttrIn>();
        IFileHandle? handle = null;
        if ((request.GetAttrFlags & GetAttrIn.FlagFh) != 0 && session.Handles.TryGet(request.Fh, out var entry))
        {
            handle = entry.Handle;
        }
        var errno = node.Node.GetAttributes(exchange.Context, handle, out var attributes);
        return errno != Errno.Ok ? errno : session.ReplyAttributes(ref exchange, node.Id, attributes);
    }

    private static Errno OnSetAttr(FuseSession session, ref Exchange exchange)
    {
        var node = session.NodeOf(ref exchange);
        if (node.Node is not INodeSetAttributes target)
        {
            return Errno.ENOSYS;
        }
        ref readonly var raw = ref exchange.Arg<SetAttrIn>();
        var valid = (int)raw.Valid;
        IFileHandle? handle = null;
        if ((valid & Abi.FAttrFh) != 0 && session.Handles.TryGet(raw.Fh, out var entry))
        {
            handle = entry.Handle;
        }
        var request = new SetAttributesRequest
        {
            Fields = (SetAttributesFields)(valid & ~(Abi.FAttrFh | Abi.FAttrLockOwner)),
            Mode = raw.Mode,
            Uid = raw.Uid,
            Gid = raw.Gid,
            Size = raw.Size,
            ATime = new Timespec((long)raw.ATime, raw.ATimeNsec),
            MTime = new Timespec((long)raw.MTime, raw.MTimeNsec),
            CTime = new Timespec((long)raw.CTime, raw.CTimeNsec),
            Handle = handle,
            LockOwner = (valid & Abi.FAttrLockOwner) != 0 ? raw.LockOwner : null,
        };
        var errno = target.SetAttributes(exchange.Context, in request, out var attributes);
        return errno != Errno.Ok ? errno : session.ReplyAttributes(ref exchange, node.Id, attributes);
    }

    private static Errno OnMkDir(FuseSession session, ref Exchange exchange)
    {
        if (session.NodeOf(ref exchange).Node is not INodeMakeDirectory parent)
        {
            return Errno.ENOSYS;
        }
        ref readonly var request = ref exchange.Arg<MkDirIn>();
        var name = exchange.Name(sizeof(MkDirIn), out _);
        var errno = parent.MakeDirectory(exchange.Context, name, request.Mode, request.Umask, out var child, out var attributes);
        if (errno != Errno.Ok)
        {
            return errno;
        }
        _ = session.WriteEntry(ref exchange.Out<EntryOut>(), child, attributes);
        return Errno.Ok;
    }

    private static Errno OnUnlink(FuseSession session, ref Exchange exchange) =>
        session.NodeOf(ref exchange).Node is INodeUnlink parent
            ? parent.Unlink(exchange.Context, exchange.Name(0, out _))
            : Errno.ENOSYS;

    private static Errno OnRmDir(FuseSession session, ref Exchange exchange) =>
        session.NodeOf(ref exchange).Node is INodeRemoveDirectory parent
            ? parent.RemoveDirectory(exchange.Context, exchange.Name(0, out _))
            : Errno.ENOSYS;

    private static Errno OnRename(FuseSession session, ref Exchange exchange) =>
        session.Rename(ref exchange, exchange.Arg<RenameIn>().NewDir, RenameFlags.None, sizeof(RenameIn));

    private static Errno OnRename2(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<Rename2In>();
        return session.Rename(ref exchange, request.NewDir, (RenameFlags)request.Flags, sizeof(Rename2In));
    }

    private Errno Rename(ref Exchange exchange, ulong newDirectory, RenameFlags flags, int namesOffset)
    {
        if (NodeOf(ref exchange).Node is not INodeRename parent)
        {
            return Errno.ENOSYS;
        }
        var target = Nodes.Get(newDirectory);
        if (target is null)
        {
            return Errno.ENOENT;
        }
        var name = exchange.Name(namesOffset, out var next);
        var newName = exchange.Name(next, out _);
        return parent.Rename(exchange.Context, name, target.Node, newName, flags);
    }

    private static Errno OnStatFs(FuseSession session, ref Exchange exchange)
    {
        var node = session.Nodes.Get(exchange.Header.NodeId)?.Node;
        var source = node as INodeStatFs ?? session.Nodes.Root.Node as INodeStatFs;
        FileSystemStats stats;
        if (source is null)
        {
            stats = new FileSystemStats { BlockSize = 4096, FragmentSize = 4096, NameLength = 255 };
        }
        else
        {
            var errno = source.GetFileSystemStats(exchange.Context, out stats);
            if (errno != Errno.Ok)
            {
                return errno;
            }
        }
        ref var reply = ref exchange.Out<KStatFs>();
        reply.Blocks = stats.Blocks;
        reply.BFree = stats.BlocksFree;
        reply.BAvail = stats.BlocksAvailable;
        reply.Files = stats.Files;
        reply.FFree = stats.FilesFree;
        reply.BSize = stats.BlockSize;
        reply.NameLen = stats.NameLength;
        reply.FrSize = stats.FragmentSize;
        return Errno.Ok;
    }

    private static Errno OnAccess(FuseSession session, ref Exchange exchange) =>
        session.NodeOf(ref exchange).Node is INodeAccess node
            ? node.Access(exchange.Context, exchange.Arg<AccessIn>().Mask)
            : Errno.Ok;
}
