using System.Text;
using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.FileSystem;

/// <summary>
/// The mount's root directory: every database, its auxiliary files, <c>.lag</c> and
/// <c>.primary</c>. Only regular files can be created; directories, renames and links cannot.
/// </summary>
internal sealed class RootNode(LiteFsFileSystem fs)
    : INodeLookup, INodeCreate, INodeUnlink, INodeOpenDirectory, INodeStatFs, INodeMakeDirectory, INodeRename, INodeSetAttributes
{
    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        attributes = new FileAttributes
        {
            Ino = 1,
            Mode = FileModes.Directory | (fs.Store.IsPrimary ? Permissions.DirectoryReadWrite : Permissions.DirectoryReadOnly),
            NLink = 1,
            Uid = fs.Uid,
            Gid = fs.Gid,
            ATime = fs.Started,
            MTime = fs.Started,
            CTime = fs.Started,
        };
        return Errno.Ok;
    }

    public Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes) =>
        GetAttributes(context, null, out attributes);

    public Errno Lookup(FuseContext context, FileName name, out INode? child, out FileAttributes attributes)
    {
        var (kind, database) = Names.Parse(name.ToString());
        child = null;
        attributes = default;
        // Names of unknown databases get no node: probing names must not grow the tables.
        if (kind is not (EntryKind.Lag or EntryKind.Primary) && fs.Store.Find(database) is null)
        {
            return Errno.ENOENT;
        }
        var node = fs.NodeFor(database, kind);
        child = node;
        var errno = node.GetAttributes(context, null, out attributes);
        if (errno != Errno.Ok)
        {
            child = null;
        }
        return errno;
    }

    public Errno Create(FuseContext context, FileName name, int flags, uint mode, uint umask,
        out INode? child, out FileAttributes attributes, out OpenResult result)
    {
        child = null;
        attributes = default;
        result = default;
        var (kind, database) = Names.Parse(name.ToString());
        if (kind is EntryKind.Pos or EntryKind.Lock or EntryKind.Lag or EntryKind.Primary)
        {
            // Not ENOSYS: the kernel would take that as "create is not implemented" for the whole mount.
            return Errno.EACCES;
        }
        Db db;
        if (kind == EntryKind.Database)
        {
            db = fs.Store.GetOrCreate(database);
            if (db.Exists(DbFileKind.Database))
            {
                if (db.PageCount > 0)
                {
                    return Errno.EEXIST;
                }
            }
            else
            {
                db.Create(DbFileKind.Database);
            }
        }
        else
        {
            db = fs.Store.Find(database) ?? throw new LiteFsException(LiteFsError.NotFound, $"no database {database}");
            db.Create(Names.FileKind(kind)!.Value);
        }
        var node = fs.NodeFor(database, kind);
        child = node;
        result = OpenResult.For((IFileHandle)node, OpenOptions.KeepCache);
        if (kind == EntryKind.Wal && fs.PassthroughEnabled)
        {
            result.PassthroughFd = db.PassthroughDescriptor(DbFileKind.Wal, out var onlyIfInUse);
            result.ClosePassthroughFd = true;
            result.PassthroughOnlyIfInUse = onlyIfInUse;
        }
        return node.GetAttributes(context, null, out attributes);
    }

    public Errno Unlink(FuseContext context, FileName name)
    {
        var (kind, database) = Names.Parse(name.ToString());
        var db = fs.Store.Find(database);
        if (kind is EntryKind.Lag or EntryKind.Primary or EntryKind.Pos or EntryKind.Lock)
        {
            // As upstream; the kernel remembers ENOSYS only for create, not for unlink.
            return Errno.ENOSYS;
        }
        if (db is null)
        {
            return Errno.ENOENT;
        }
        if (kind == EntryKind.Database)
        {
            if (!fs.Store.IsPrimary)
            {
                return Errno.EACCES;
            }
            db.Delete();
        }
        else
        {
            var file = Names.FileKind(kind)!.Value;
            if (!db.Exists(file))
            {
                return Errno.ENOENT;
            }
            db.Unlink(file);
        }
        return Errno.Ok;
    }

    public Errno OpenDirectory(FuseContext context, int flags, out IDirectoryHandle? handle, out OpenOptions options)
    {
        handle = new Listing(Entries());
        options = OpenOptions.None;
        return Errno.Ok;
    }

    /// <summary>The listing: <c>.lag</c>, <c>.primary</c> on a replica that knows one, then each visible database.</summary>
    private List<(string Name, ulong Ino)> Entries()
    {
        var entries = new List<(string, ulong)> { (Names.Lag, fs.InodeOf("", EntryKind.Lag)) };
        if (fs.NodeFor("", EntryKind.Primary).Exists)
        {
            entries.Add((Names.Primary, fs.InodeOf("", EntryKind.Primary)));
        }
        foreach (var db in fs.Store.Databases)
        {
            if (db.PageCount == 0)
            {
                continue;
            }
            entries.Add((db.Name, fs.InodeOf(db.Name, EntryKind.Database)));
            entries.Add((Names.Of(db.Name, EntryKind.Pos), fs.InodeOf(db.Name, EntryKind.Pos)));
            foreach (var (kind, file) in new[] { (EntryKind.Journal, DbFileKind.Journal), (EntryKind.Shm, DbFileKind.Shm), (EntryKind.Wal, DbFileKind.Wal) })
            {
                if (db.Exists(file))
                {
                    entries.Add((Names.Of(db.Name, kind), fs.InodeOf(db.Name, kind)));
                }
            }
        }
        return entries;
    }

    public Errno GetFileSystemStats(FuseContext context, out FileSystemStats stats)
    {
        var drive = new DriveInfo(fs.Store.DataDir);
        const uint block = 4096;
        stats = new FileSystemStats
        {
            Blocks = (ulong)drive.TotalSize / block,
            BlocksFree = (ulong)drive.TotalFreeSpace / block,
            BlocksAvailable = (ulong)drive.AvailableFreeSpace / block,
            BlockSize = block,
            NameLength = 255,
        };
        return Errno.Ok;
    }

    public Errno MakeDirectory(FuseContext context, FileName name, uint mode, uint umask, out INode? child, out FileAttributes attributes)
    {
        child = null;
        attributes = default;
        return Errno.EPERM;
    }

    public Errno Rename(FuseContext context, FileName name, INode newParent, FileName newName, RenameFlags flags) => Errno.EIO;

    /// <summary>A snapshot of the listing taken at opendir; offsets are positions in it.</summary>
    private sealed class Listing(List<(string Name, ulong Ino)> entries) : IDirectoryHandle, IHandleFsync
    {
        /// <summary>Directory fsync: the node makes its own directory changes durable.</summary>
        public Errno Fsync(FuseContext context, bool dataOnly) => Errno.Ok;

        public Errno ReadDirectory(FuseContext context, long offset, ref DirectoryWriter writer)
        {
            for (var i = (int)offset; i < entries.Count; i++)
            {
                var (name, ino) = entries[i];
                if (!writer.TryAdd(Encoding.UTF8.GetBytes(name), ino, FileModes.ToDirentType(FileModes.Regular), i + 1))
                {
                    break;
                }
            }
            return Errno.Ok;
        }
    }
}
