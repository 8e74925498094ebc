using System.Buffers.Binary;
using System.Text;
using LiteFs.Core;
using LiteFs.Fuse;
using LiteFs.TestKit;

namespace LiteFs.FileSystem.Tests;

/// <summary>
/// A LiteFS node tree without a kernel mount: a store on a temporary data directory holding one
/// database (upstream's delete-1024 scenario, TXID 5, as app.db) and the file system over it,
/// driven through the node and handle interfaces the FUSE session calls.
/// </summary>
internal sealed class NodeTree : IDisposable
{
    public const string Database = "app.db";

    private readonly TempDir _dir = new("litefs-nodes");

    public NodeTree(bool primary = true, bool withDatabase = true)
    {
        if (withDatabase)
        {
            var dbDir = _dir.Combine("data", "dbs", Database);
            Directory.CreateDirectory(Path.Combine(dbDir, "ltx"));
            var golden = Path.Combine(RepoPaths.Golden, "delete-1024");
            File.Copy(Path.Combine(golden, "database"), Path.Combine(dbDir, "database"));
            foreach (var ltx in Directory.GetFiles(Path.Combine(golden, "ltx"), "*.ltx"))
            {
                File.Copy(ltx, Path.Combine(dbDir, "ltx", Path.GetFileName(ltx)));
            }
        }
        Store = new Store(new StoreOptions
        {
            DataDir = _dir.Combine("data"),
            Lease = new StaticLease(primary, primary ? "localhost" : "primary", "http://127.0.0.1:20202"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        Store.Open();
        FileSystem = new LiteFsFileSystem(Store);
    }

    public Store Store { get; }

    public LiteFsFileSystem FileSystem { get; }

    public RootNode Root => FileSystem.Root;

    public Db Db => Store.Find(Database)!;

    public static FuseContext Context => default;

    public static FileName Name(string name) => new(Encoding.UTF8.GetBytes(name + "\0"));

    /// <summary>Looks a name up in the root: the errno and, when found, the node and its attributes.</summary>
    public (Errno Errno, INode? Node, FileAttributes Attributes) Lookup(string name)
    {
        var errno = Root.Lookup(Context, Name(name), out var node, out var attributes);
        return (errno, node, attributes);
    }

    /// <summary>The node of an entry that must exist.</summary>
    public INode Node(string name)
    {
        var (errno, node, _) = Lookup(name);
        Assert.True(errno == Errno.Ok, $"lookup of {name}: {errno}");
        return node!;
    }

    /// <summary>Opens a file node and reads all of it, as cat(1) would.</summary>
    public static string ReadText(INode node)
    {
        Assert.Equal(Errno.Ok, ((INodeOpen)node).Open(Context, 0, out var open));
        var handle = (IHandleRead)(open.Handle ?? (IFileHandle)node);
        var buffer = new byte[4096];
        Assert.Equal(Errno.Ok, handle.Read(Context, 0, buffer, out var n));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    /// <summary>The root listing as readdir(3) gets it: names in order.</summary>
    public List<string> List()
    {
        Assert.Equal(Errno.Ok, Root.OpenDirectory(Context, 0, out var handle, out _));
        var buffer = new byte[64 * 1024];
        var writer = new DirectoryWriter(null!, buffer, plus: false);
        Assert.Equal(Errno.Ok, handle!.ReadDirectory(Context, 0, ref writer));
        var names = new List<string>();
        // struct fuse_dirent: ino, off (u64), namelen, type (u32), name, padded to 8 bytes.
        for (var at = 0; at < writer.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at + 16));
            names.Add(Encoding.UTF8.GetString(buffer, at + 24, length));
            at += (24 + length + 7) & ~7;
        }
        return names;
    }

    public void Dispose()
    {
        FileSystem.Dispose();
        Store.Dispose();
        _dir.Dispose();
    }
}
