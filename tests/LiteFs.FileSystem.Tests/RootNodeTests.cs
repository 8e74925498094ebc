using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.FileSystem.Tests;

/// <summary>The mount's root without a kernel: listing, lookups, and which names can be created or removed.</summary>
public class RootNodeTests
{
    [Fact]
    public void List_PrimaryWithDatabase_ShowsLagDatabaseAndPosition()
    {
        using var tree = new NodeTree();
        var expected = new List<string> { ".lag", NodeTree.Database, NodeTree.Database + "-pos" };
        foreach (var (suffix, kind) in new[] { ("-journal", DbFileKind.Journal), ("-shm", DbFileKind.Shm), ("-wal", DbFileKind.Wal) })
        {
            if (tree.Db.Exists(kind))
            {
                expected.Add(NodeTree.Database + suffix);
            }
        }
        Assert.Equal(expected, tree.List());
    }

    [Fact]
    public void List_JournalCreated_ListsIt()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.Ok, tree.Root.Create(NodeTree.Context, NodeTree.Name("app.db-journal"), 0, 0x1A4, 0, out var journal, out _, out _));
        Assert.Contains("app.db-journal", tree.List());
        // A journal SQLite never finished (its magic still zero) commits nothing when it goes.
        Assert.Equal(Errno.Ok, ((IHandleWrite)journal!).Write(NodeTree.Context, 0, new byte[512], out _));
        Assert.Equal(Errno.Ok, tree.Root.Unlink(NodeTree.Context, NodeTree.Name("app.db-journal")));
        Assert.DoesNotContain("app.db-journal", tree.List());
    }

    [Fact]
    public void List_DatabaseWithoutPages_IsHidden()
    {
        using var tree = new NodeTree(withDatabase: false);
        tree.Store.GetOrCreate("new.db");
        Assert.Equal([".lag"], tree.List());
    }

    [Theory]
    [InlineData("app.db", Errno.Ok)]
    [InlineData("app.db-pos", Errno.Ok)]
    [InlineData("app.db-lock", Errno.Ok)]
    [InlineData(".lag", Errno.Ok)]
    [InlineData("app.db-journal", Errno.ENOENT)]
    [InlineData("app.db-wal", Errno.ENOENT)]
    [InlineData(".primary", Errno.ENOENT)]
    [InlineData("other.db", Errno.ENOENT)]
    [InlineData("other.db-pos", Errno.ENOENT)]
    [InlineData("other.db-wal", Errno.ENOENT)]
    public void Lookup_OnPrimary_FindsWhatExists(string name, Errno expected)
    {
        using var tree = new NodeTree();
        var (errno, node, _) = tree.Lookup(name);
        Assert.Equal(expected, errno);
        Assert.Equal(expected == Errno.Ok, node is not null);
    }

    [Fact]
    public void Lookup_Database_ReportsItsSizeModeAndStableInode()
    {
        using var tree = new NodeTree();
        var (_, node, attributes) = tree.Lookup("app.db");
        Assert.Equal((ulong)new FileInfo(tree.Db.FilePath(DbFileKind.Database)).Length, attributes.Size);
        Assert.Equal(FileModes.Regular | Permissions.ReadWrite, attributes.Mode);
        Assert.Same(node, tree.Lookup("app.db").Node);
        Assert.NotEqual(attributes.Ino, tree.Lookup("app.db-pos").Attributes.Ino);
    }

    [Fact]
    public void Lookup_Wal_FoundOnceCreated()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.ENOENT, tree.Lookup("app.db-wal").Errno);
        Assert.Equal(Errno.Ok, tree.Root.Create(NodeTree.Context, NodeTree.Name("app.db-wal"), 0, 0x1A4, 0, out var child, out var attributes, out var open));
        Assert.Same(child, open.Handle);
        Assert.Equal(0ul, attributes.Size);
        Assert.Equal(Errno.Ok, tree.Lookup("app.db-wal").Errno);
        Assert.Contains("app.db-wal", tree.List());
    }

    [Fact]
    public void Lookup_Shm_FoundWhileItsFileExists()
    {
        using var tree = new NodeTree();
        Assert.Equal(tree.Db.Exists(DbFileKind.Shm) ? Errno.Ok : Errno.ENOENT, tree.Lookup("app.db-shm").Errno);
        tree.Db.Unlink(DbFileKind.Shm);
        Assert.Equal(Errno.ENOENT, tree.Lookup("app.db-shm").Errno);
    }

    [Theory]
    [InlineData("app.db-pos")]
    [InlineData("app.db-lock")]
    [InlineData(".lag")]
    [InlineData(".primary")]
    public void Create_SpecialFile_IsRefused(string name)
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.EACCES, tree.Root.Create(NodeTree.Context, NodeTree.Name(name), 0, 0x1A4, 0, out _, out _, out _));
    }

    [Theory]
    [InlineData("app.db-pos", Errno.ENOSYS)]
    [InlineData(".lag", Errno.ENOSYS)]
    [InlineData("app.db-journal", Errno.ENOENT)]
    [InlineData("other.db", Errno.ENOENT)]
    public void Unlink_SpecialOrMissingFile_AnswersErrno(string name, Errno expected)
    {
        using var tree = new NodeTree();
        Assert.Equal(expected, tree.Root.Unlink(NodeTree.Context, NodeTree.Name(name)));
    }

    [Fact]
    public void Create_ExistingDatabaseWithPages_IsEExist()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.EEXIST, tree.Root.Create(NodeTree.Context, NodeTree.Name("app.db"), 0, 0x1A4, 0, out _, out _, out _));
    }

    [Fact]
    public void Create_NewDatabase_AddsItToTheStore()
    {
        using var tree = new NodeTree(withDatabase: false);
        Assert.Equal(Errno.Ok, tree.Root.Create(NodeTree.Context, NodeTree.Name("new.db"), 0, 0x1A4, 0, out _, out _, out _));
        Assert.True(tree.Store.Find("new.db")!.Exists(DbFileKind.Database));
        Assert.Equal(Errno.Ok, tree.Lookup("new.db").Errno);
    }

    [Fact]
    public void Unlink_Database_DeletesIt()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.Ok, tree.Root.Unlink(NodeTree.Context, NodeTree.Name("app.db")));
        Assert.Equal(Errno.ENOENT, tree.Lookup("app.db").Errno);
    }

    [Fact]
    public void DirectoryAndRename_AreRefused()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.EPERM, tree.Root.MakeDirectory(NodeTree.Context, NodeTree.Name("dir"), 0x1ED, 0, out _, out _));
        Assert.Equal(Errno.EIO, tree.Root.Rename(NodeTree.Context, NodeTree.Name("app.db"), tree.Root, NodeTree.Name("b.db"), default));
    }
}
