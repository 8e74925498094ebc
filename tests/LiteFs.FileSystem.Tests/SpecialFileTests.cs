using LiteFs.Fuse;

namespace LiteFs.FileSystem.Tests;

/// <summary>The generated files: <c>-pos</c>, <c>.lag</c>, <c>.primary</c> and the <c>-lock</c> file.</summary>
public class SpecialFileTests
{
    [Fact]
    public void Pos_Read_IsPositionAndNewline()
    {
        using var tree = new NodeTree();
        var text = NodeTree.ReadText(tree.Node("app.db-pos"));
        Assert.Equal("0000000000000005/" + File.ReadAllText(Path.Combine(TestKit.RepoPaths.Golden, "delete-1024", "pos.txt")).Trim().Split('/')[1] + "\n", text);
        Assert.Equal(tree.Db.Pos + "\n", text);
        Assert.Equal(34ul, tree.Lookup("app.db-pos").Attributes.Size);
    }

    [Fact]
    public void Pos_Stat_HasTheLastTransactionTime()
    {
        using var tree = new NodeTree();
        var attributes = tree.Lookup("app.db-pos").Attributes;
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(tree.Db.Timestamp), attributes.MTime.ToDateTimeOffset());
    }

    [Fact]
    public void Pos_Fsync_IsEio()
    {
        using var tree = new NodeTree();
        Assert.Equal(Errno.EIO, ((IHandleFsync)tree.Node("app.db-pos")).Fsync(NodeTree.Context, false));
    }

    [Fact]
    public void Lag_OnPrimary_IsZero()
    {
        using var tree = new NodeTree();
        Assert.Equal("+000000000\n", NodeTree.ReadText(tree.Node(".lag")));
    }

    [Fact]
    public void Lag_OnReplicaNotCaughtUp_IsMaximumInElevenBytes()
    {
        using var tree = new NodeTree(primary: false);
        Assert.Equal("+2147483647", NodeTree.ReadText(tree.Node(".lag")));
    }

    [Fact]
    public void Primary_OnAttachedReplica_IsHostname()
    {
        using var tree = new NodeTree(primary: false);
        Assert.Equal(Errno.ENOENT, tree.Lookup(".primary").Errno);
        Assert.DoesNotContain(".primary", tree.List());

        tree.Store.AttachedPrimaryHostname = "primary-host";

        Assert.Equal("primary-host\n", NodeTree.ReadText(tree.Node(".primary")));
        Assert.Equal([".lag", ".primary"], tree.List().Take(2));
    }

    [Theory]
    [InlineData(true, LockType.Write, true, 72ul, Errno.Ok)]
    [InlineData(true, LockType.Unlock, false, 72ul, Errno.Ok)]
    [InlineData(true, LockType.Write, false, 72ul, Errno.ENOSYS)]
    [InlineData(true, LockType.Read, true, 72ul, Errno.ENOSYS)]
    [InlineData(true, LockType.Write, true, 73ul, Errno.EINVAL)]
    [InlineData(false, LockType.Write, true, 72ul, Errno.EIO)]
    public async Task Lock_HaltByte_AnswersByRole(bool primary, LockType type, bool wait, ulong start, Errno expected)
    {
        using var tree = new NodeTree(primary);
        Assert.Equal(Errno.Ok, ((INodeOpen)tree.Node("app.db-lock")).Open(NodeTree.Context, 2, out var opened));
        var node = (IHandleLocks)opened.Handle!;
        var request = new FileLock { Owner = 1, Start = start, End = start, Type = type };
        Assert.Equal(expected, await node.SetLock(NodeTree.Context, request, wait, CancellationToken.None));
    }
}
