namespace LiteFs.Fuse;

// The node layer: a node is anything with attributes; each other capability is its own interface,
// and the dispatcher answers ENOSYS (or a sensible default) for capabilities a node lacks. Methods
// return an Errno for expected outcomes; an exception is a bug and becomes EIO at the dispatcher.
// Methods are called from several reader threads at once and must be thread-safe.

/// <summary>A file system object the kernel can look up. Every node can report its attributes.</summary>
public interface INode
{
    /// <summary>getattr: reports the node's attributes.</summary>
    /// <param name="context">The caller.</param>
    /// <param name="handle">The open handle fstat(2) came through, if any.</param>
    /// <param name="attributes">The attributes.</param>
    Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes);
}

/// <summary>A directory whose children can be looked up by name.</summary>
public interface INodeLookup : INode
{
    /// <summary>
    /// lookup: finds a child. The returned node may be a new object every time: when its
    /// <see cref="FileAttributes.Ino"/> matches a node the kernel already knows, that node is used and
    /// the new one receives <see cref="INodeForget.Forget"/>.
    /// </summary>
    /// <returns><see cref="Errno.Ok"/>, or <see cref="Errno.ENOENT"/> when there is no such child.</returns>
    Errno Lookup(FuseContext context, FileName name, out INode? child, out FileAttributes attributes);
}

/// <summary>A node told when the kernel no longer references it.</summary>
public interface INodeForget : INode
{
    /// <summary>
    /// The kernel forgot the node (or the node, returned from a lookup, was never handed to the
    /// kernel because an equivalent node already was). Release per-node resources here.
    /// </summary>
    void Forget();
}

/// <summary>A node whose attributes can change (chmod, chown, truncate, utimensat).</summary>
public interface INodeSetAttributes : INode
{
    /// <summary>setattr: applies the change and reports the resulting attributes.</summary>
    Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes);
}

/// <summary>A node that can be opened. Nodes without it open statelessly (no handle).</summary>
public interface INodeOpen : INode
{
    /// <summary>open: opens the node.</summary>
    /// <param name="context">The caller.</param>
    /// <param name="flags">open(2) flags (O_ACCMODE bits, O_TRUNC, O_APPEND, ...); O_CREAT and O_EXCL are never set.</param>
    /// <param name="result">The handle and cache options.</param>
    Errno Open(FuseContext context, int flags, out OpenResult result);
}

/// <summary>A directory in which regular files can be created.</summary>
public interface INodeCreate : INode
{
    /// <summary>create: atomically creates and opens a regular file.</summary>
    Errno Create(FuseContext context, FileName name, int flags, uint mode, uint umask,
        out INode? child, out FileAttributes attributes, out OpenResult result);
}

/// <summary>A directory in which directories can be created.</summary>
public interface INodeMakeDirectory : INode
{
    /// <summary>mkdir.</summary>
    Errno MakeDirectory(FuseContext context, FileName name, uint mode, uint umask,
        out INode? child, out FileAttributes attributes);
}

/// <summary>A directory whose non-directory children can be removed.</summary>
public interface INodeUnlink : INode
{
    /// <summary>unlink.</summary>
    Errno Unlink(FuseContext context, FileName name);
}

/// <summary>A directory whose child directories can be removed.</summary>
public interface INodeRemoveDirectory : INode
{
    /// <summary>rmdir.</summary>
    Errno RemoveDirectory(FuseContext context, FileName name);
}

/// <summary>A directory whose children can be renamed or moved.</summary>
public interface INodeRename : INode
{
    /// <summary>rename/renameat2: moves <paramref name="name"/> to <paramref name="newName"/> in <paramref name="newParent"/>.</summary>
    Errno Rename(FuseContext context, FileName name, INode newParent, FileName newName, RenameFlags flags);
}

/// <summary>A directory that can be listed.</summary>
public interface INodeOpenDirectory : INode
{
    /// <summary>opendir: opens the directory for reading.</summary>
    Errno OpenDirectory(FuseContext context, int flags, out IDirectoryHandle? handle, out OpenOptions options);
}

/// <summary>A node that answers statfs(2) for the file system.</summary>
public interface INodeStatFs : INode
{
    /// <summary>statfs.</summary>
    Errno GetFileSystemStats(FuseContext context, out FileSystemStats stats);
}

/// <summary>
/// A node that checks access(2) itself. Without it, access succeeds (the kernel already checks
/// permissions when mounted with default_permissions).
/// </summary>
public interface INodeAccess : INode
{
    /// <summary>access: <paramref name="mask"/> is R_OK | W_OK | X_OK or F_OK.</summary>
    Errno Access(FuseContext context, int mask);
}
