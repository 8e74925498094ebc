using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.FileSystem.Tests;

/// <summary>A replica's tree: readable, and every write refused with the errno SQLite reports.</summary>
public class ReplicaTests
{
    [Fact]
    public void Database_OnReplica_IsReadOnlyButReadable()
    {
        using var tree = new NodeTree(primary: false);
        var (errno, node, attributes) = tree.Lookup("app.db");
        Assert.Equal(Errno.Ok, errno);
        Assert.Equal(FileModes.Regular | Permissions.ReadOnly, attributes.Mode);
        Assert.Equal(Errno.Ok, ((INodeOpen)node!).Open(NodeTree.Context, 0, out var open));
        var buffer = new byte[100];
        Assert.Equal(Errno.Ok, ((IHandleRead)open.Handle!).Read(NodeTree.Context, 0, buffer, out var n));
        Assert.Equal("SQLite format 3\0"u8.ToArray(), buffer[..16]);
        Assert.Equal(100, n);
    }

    [Fact]
    public void WriteDatabase_OnReplica_IsEio()
    {
        using var tree = new NodeTree(primary: false);
        var handle = (IHandleWrite)tree.Node("app.db");
        var page = new byte[1024];
        var ex = Assert.ThrowsAny<LiteFsException>(() => handle.Write(NodeTree.Context, 1024, page, out _));
        Assert.Equal(Errno.EIO, Errors.ToErrno(ex));
        Assert.Contains("read-only", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateJournal_OnReplica_IsEacces()
    {
        using var tree = new NodeTree(primary: false);
        var ex = Assert.ThrowsAny<LiteFsException>(() => tree.Root.Create(NodeTree.Context, NodeTree.Name("app.db-journal"), 0, 0x1A4, 0, out _, out _, out _));
        Assert.Equal(Errno.EACCES, Errors.ToErrno(ex));
        Assert.False(tree.Db.Exists(DbFileKind.Journal));
    }

    [Fact]
    public void WriteWal_OnReplica_IsEacces()
    {
        using var tree = new NodeTree(primary: false);
        Assert.Equal(Errno.Ok, tree.Root.Create(NodeTree.Context, NodeTree.Name("app.db-wal"), 0, 0x1A4, 0, out var wal, out _, out _));
        var ex = Assert.ThrowsAny<LiteFsException>(() => ((IHandleWrite)wal!).Write(NodeTree.Context, 0, new byte[32], out _));
        Assert.Equal(Errno.EACCES, Errors.ToErrno(ex));
    }

    [Fact]
    public void UnlinkDatabase_OnReplica_IsEacces()
    {
        using var tree = new NodeTree(primary: false);
        Assert.Equal(Errno.EACCES, tree.Root.Unlink(NodeTree.Context, NodeTree.Name("app.db")));
        Assert.True(tree.Db.Exists(DbFileKind.Database));
    }

    [Fact]
    public void Root_OnReplica_IsReadOnlyDirectory()
    {
        using var tree = new NodeTree(primary: false);
        Assert.Equal(Errno.Ok, tree.Root.GetAttributes(NodeTree.Context, null, out var attributes));
        Assert.Equal(FileModes.Directory | Permissions.DirectoryReadOnly, attributes.Mode);
    }
}
