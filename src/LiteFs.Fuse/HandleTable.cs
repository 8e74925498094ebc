namespace LiteFs.Fuse;

/// <summary>What a kernel file handle (fh) stands for.</summary>
/// <remarks><paramref name="Cached"/>: an open counted in <see cref="NodeEntry.CachedUsers"/>.</remarks>
internal readonly record struct HandleEntry(IFileHandle? Handle, NodeEntry Node, bool Passthrough, bool Cached = false);

/// <summary>
/// Maps kernel file handles to open handles. An fh is (generation &lt;&lt; 32 | slot + 1): slots are
/// reused without allocating, and a stale fh never reaches a handle that took its slot.
/// </summary>
internal sealed class HandleTable
{
    private readonly Lock _lock = new();
    private Slot[] _slots = new Slot[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private int _used;
    private uint _generation;

    public int Count { get; private set; }

    public ulong Add(HandleEntry entry)
    {
        lock (_lock)
        {
            int index;
            if (_freeCount > 0)
            {
                index = _free[--_freeCount];
            }
            else
            {
                if (_used == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                    Array.Resize(ref _free, _slots.Length);
                }
                index = _used++;
            }
            var generation = ++_generation == 0 ? ++_generation : _generation;
            _slots[index] = new Slot(entry, generation);
            Count++;
            return ((ulong)generation << 32) | (uint)(index + 1);
        }
    }

    public bool TryGet(ulong fh, out HandleEntry entry)
    {
        var index = (int)(uint)fh - 1;
        var generation = (uint)(fh >> 32);
        lock (_lock)
        {
            if ((uint)index < (uint)_used && _slots[index].Generation == generation)
            {
                entry = _slots[index].Entry;
                return true;
            }
        }
        entry = default;
        return false;
    }

    public bool TryRemove(ulong fh, out HandleEntry entry)
    {
        var index = (int)(uint)fh - 1;
        var generation = (uint)(fh >> 32);
        lock (_lock)
        {
            if ((uint)index < (uint)_used && _slots[index].Generation == generation)
            {
                entry = _slots[index].Entry;
                _slots[index] = default;
                _free[_freeCount++] = index;
                Count--;
                return true;
            }
        }
        entry = default;
        return false;
    }

    private readonly record struct Slot(HandleEntry Entry, uint Generation);
}
