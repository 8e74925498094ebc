using System.Collections.Concurrent;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

/// <summary>One node the kernel knows, with the kernel's lookup count for it.</summary>
internal sealed class NodeEntry
{
    public NodeEntry(ulong id, INode node, ulong ino)
    {
        Id = id;
        Node = node;
        Ino = ino;
    }

    public ulong Id { get; }

    public INode Node { get; }

    public ulong Ino { get; }

    /// <summary>Guarded by the table's lock.</summary>
    public long Lookups;

    /// <summary>The passthrough backing id shared by every open of this node, and how many opens use it; guarded by locking the entry.</summary>
    public int BackingId;

    public int BackingUsers;

    /// <summary>The real file behind <see cref="BackingId"/> (device and inode), guarded like it.</summary>
    public (uint Major, uint Minor, ulong Ino) BackingFile;

    /// <summary>
    /// Opens answered without passthrough on a mount that has it, until released; guarded like
    /// <see cref="BackingId"/>. The kernel keeps one I/O mode per inode: while any of these is
    /// open it fails a passthrough open of the inode with EIO, and while a passthrough open is
    /// open it fails any other.
    /// </summary>
    public int CachedUsers;
}

/// <summary>
/// Maps kernel node ids to nodes and counts lookups. Ids are never reused, so a FORGET racing a
/// new LOOKUP can never confuse two nodes. The same node object, or two objects reporting the same
/// non-zero inode number, always get the same id while the kernel knows it.
/// </summary>
internal sealed class NodeTable
{
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<ulong, NodeEntry> _byId = new();
    private readonly Dictionary<INode, NodeEntry> _byNode = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ulong, NodeEntry> _byIno = [];
    private ulong _nextId = Abi.RootId + 1;

    public NodeTable(INode root, ulong rootIno)
    {
        Root = new NodeEntry(Abi.RootId, root, rootIno) { Lookups = long.MaxValue / 2 };
        _byId[Abi.RootId] = Root;
        _byNode[root] = Root;
        if (rootIno != 0)
        {
            _byIno[rootIno] = Root;
        }
    }

    public NodeEntry Root { get; }

    public int Count => _byId.Count;

    /// <summary>The entry for a node id from a request; lock-free.</summary>
    public NodeEntry? Get(ulong id) => _byId.TryGetValue(id, out var entry) ? entry : null;

    /// <summary>
    /// Records one more kernel reference to <paramref name="candidate"/> (a lookup, create, mkdir or
    /// readdirplus reply) and returns its entry. When another object already stands for the same
    /// inode, that one is kept and the candidate is forgotten.
    /// </summary>
    public NodeEntry Register(INode candidate, ulong ino)
    {
        NodeEntry? entry;
        var discard = false;
        lock (_lock)
        {
            if (_byNode.TryGetValue(candidate, out entry))
            {
                entry.Lookups++;
                return entry;
            }
            if (ino != 0 && _byIno.TryGetValue(ino, out entry))
            {
                entry.Lookups++;
                discard = true;
            }
            else
            {
                entry = new NodeEntry(_nextId++, candidate, ino) { Lookups = 1 };
                _byId[entry.Id] = entry;
                _byNode[candidate] = entry;
                if (ino != 0)
                {
                    _byIno[ino] = entry;
                }
            }
        }
        if (discard)
        {
            (candidate as INodeForget)?.Forget();
        }
        return entry;
    }

    /// <summary>Drops a candidate that was never handed to the kernel, unless it is a known node.</summary>
    public void Discard(INode candidate)
    {
        bool known;
        lock (_lock)
        {
            known = _byNode.ContainsKey(candidate);
        }
        if (!known)
        {
            (candidate as INodeForget)?.Forget();
        }
    }

    /// <summary>FORGET: the kernel dropped <paramref name="count"/> references.</summary>
    public void Forget(ulong id, ulong count)
    {
        if (id == Abi.RootId)
        {
            return;
        }
        NodeEntry? gone = null;
        lock (_lock)
        {
            if (_byId.TryGetValue(id, out var entry))
            {
                entry.Lookups -= (long)Math.Min(count, long.MaxValue);
                if (entry.Lookups <= 0)
                {
                    _byId.TryRemove(id, out _);
                    _byNode.Remove(entry.Node);
                    if (entry.Ino != 0 && _byIno.TryGetValue(entry.Ino, out var same) && same == entry)
                    {
                        _byIno.Remove(entry.Ino);
                    }
                    gone = entry;
                }
            }
        }
        (gone?.Node as INodeForget)?.Forget();
    }

    /// <summary>The node id the kernel knows <paramref name="node"/> by, if it knows it.</summary>
    public bool TryGetId(INode node, out ulong id)
    {
        lock (_lock)
        {
            if (_byNode.TryGetValue(node, out var entry))
            {
                id = entry.Id;
                return true;
            }
        }
        id = 0;
        return false;
    }
}
