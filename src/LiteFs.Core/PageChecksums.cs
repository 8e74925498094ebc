using System.Buffers.Binary;
using System.Numerics;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>
/// Per-page checksums of one database: the database file's pages, overlaid by the pages of
/// committed WAL frames not yet checkpointed. The rolling database checksum is the XOR of the
/// logical page checksums; XORs of blocks of <see cref="BlockSize"/> pages are cached and only
/// recomputed for blocks that changed, so a commit costs O(changed pages + blocks), not a rescan.
/// </summary>
internal sealed class PageChecksums
{
    /// <summary>Pages per cached block.</summary>
    public const int BlockSize = 256;

    private readonly List<ulong[]> _blocks = [];
    private readonly List<ulong> _blockXor = [];
    private readonly List<bool> _blockValid = [];
    private readonly Dictionary<uint, ulong> _wal = [];

    // The checksum of a page of zeros, from the page number's bits: in WAL mode every page
    // appended since the last checkpoint is a hole in the database file. A CRC is affine in its
    // input, so for messages of one length crc(a ^ b) = crc(a) ^ crc(b) ^ crc(0): the checksum of
    // page P of zeros is that of page 0 of zeros XORed with, for each bit set in P, what that bit
    // alone changes. 33 CRCs per page size, then a few XORs per page, and no memory per page.
    private readonly ulong[] _zeroBit = new ulong[32];
    private ulong _zeroBase;
    private int _zeroPageSize;

    /// <summary>The checksum recorded for page <paramref name="pgno"/> of the database file, or 0.</summary>
    public ulong GetDatabase(uint pgno)
    {
        var (b, i) = Locate(pgno);
        return b < _blocks.Count ? _blocks[b][i] : 0;
    }

    /// <summary>The logical checksum of a page: its committed WAL version if any, else the database file's.</summary>
    public ulong Get(uint pgno) => _wal.TryGetValue(pgno, out var c) ? c : GetDatabase(pgno);

    /// <summary>Records the checksum of a page written to the database file.</summary>
    public void SetDatabase(uint pgno, Checksum checksum)
    {
        var (b, i) = Locate(pgno);
        while (_blocks.Count <= b)
        {
            _blocks.Add(new ulong[BlockSize]);
            _blockXor.Add(0);
            _blockValid.Add(false);
        }
        _blocks[b][i] = checksum.Value;
        _blockValid[b] = false;
    }

    /// <summary>Records the checksum of a page's newest committed WAL frame.</summary>
    public void SetWal(uint pgno, Checksum checksum) => _wal[pgno] = checksum.Value;

    /// <summary>The checksum of a page's newest committed WAL frame, if it has one.</summary>
    public bool TryGetWal(uint pgno, out ulong checksum) => _wal.TryGetValue(pgno, out checksum);

    /// <summary>Puts back what <see cref="TryGetWal"/> returned: the WAL checksum, or none.</summary>
    public void RestoreWal(uint pgno, ulong? checksum)
    {
        if (checksum is { } value)
        {
            _wal[pgno] = value;
        }
        else
        {
            _wal.Remove(pgno);
        }
    }

    /// <summary>Forgets the WAL overlay (the WAL was checkpointed and reset).</summary>
    public void ClearWal() => _wal.Clear();

    /// <summary>Whether any page has a WAL checksum (a committed frame not yet checkpointed).</summary>
    public bool HasWal => _wal.Count > 0;

    /// <summary>Forgets checksums of pages beyond <paramref name="pageCount"/>, in the file and in the WAL overlay.</summary>
    public void Truncate(uint pageCount)
    {
        var (b, i) = Locate(pageCount + 1);
        if (b < _blocks.Count)
        {
            Array.Clear(_blocks[b], i, BlockSize - i);
            _blockValid[b] = false;
            var keep = i == 0 ? b : b + 1;
            _blocks.RemoveRange(keep, _blocks.Count - keep);
            _blockXor.RemoveRange(keep, _blockXor.Count - keep);
            _blockValid.RemoveRange(keep, _blockValid.Count - keep);
        }
        if (_wal.Count > 0)
        {
            foreach (var pgno in _wal.Keys.Where(p => p > pageCount).ToList())
            {
                _wal.Remove(pgno);
            }
        }
    }

    /// <summary>
    /// Takes the database file's checksums from <paramref name="source"/> (left empty) in place of
    /// this one's: the database file was replaced as a whole. The WAL overlay stays.
    /// </summary>
    public void ReplaceDatabase(PageChecksums source)
    {
        _blocks.Clear();
        _blocks.AddRange(source._blocks);
        _blockXor.Clear();
        _blockXor.AddRange(source._blockXor);
        _blockValid.Clear();
        _blockValid.AddRange(source._blockValid);
        source.Clear();
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        _blocks.Clear();
        _blockXor.Clear();
        _blockValid.Clear();
        _wal.Clear();
    }

    /// <summary>
    /// The rolling checksum of pages 1..<paramref name="pageCount"/>. A page with no recorded
    /// checksum is a hole: SQLite extended the file past it without writing it, so it reads as
    /// zeros and counts as a page of zeros. The lock page never counts.
    /// </summary>
    public Checksum Compute(uint pageCount, int pageSize)
    {
        if (pageCount == 0)
        {
            return Checksum.Flag;
        }
        var lockPgno = pageSize > 0 ? LtxLayout.LockPageNumber(pageSize) : 0;
        ulong xor = 0;
        var (lastBlock, lastIndex) = Locate(pageCount);
        for (var b = 0; b <= lastBlock; b++)
        {
            var full = b < lastBlock;
            if (b >= _blocks.Count)
            {
                xor ^= XorRange(null, b, full ? BlockSize - 1 : lastIndex, pageSize, lockPgno);
                continue;
            }
            if (!full)
            {
                xor ^= XorRange(_blocks[b], b, lastIndex, pageSize, lockPgno);
                continue;
            }
            if (!_blockValid[b])
            {
                _blockXor[b] = XorRange(_blocks[b], b, BlockSize - 1, pageSize, lockPgno);
                _blockValid[b] = true;
            }
            xor ^= _blockXor[b];
        }
        foreach (var (pgno, c) in _wal)
        {
            if (pgno <= pageCount)
            {
                xor ^= Effective(GetDatabase(pgno), pgno, pageSize, lockPgno) ^ c;
            }
        }
        return new Checksum(Checksum.FlagBit | xor);
    }

    private ulong XorRange(ulong[]? block, int b, int lastIndex, int pageSize, uint lockPgno)
    {
        ulong x = 0;
        for (var i = 0; i <= lastIndex; i++)
        {
            x ^= Effective(block?[i] ?? 0, (uint)((b * BlockSize) + i + 1), pageSize, lockPgno);
        }
        return x;
    }

    private ulong Effective(ulong recorded, uint pgno, int pageSize, uint lockPgno) =>
        recorded != 0 || pgno == lockPgno || pageSize == 0 ? recorded : ZeroPage(pgno, pageSize);

    /// <summary>The checksum of page <paramref name="pgno"/> full of zeros (a hole in the file), bit 63 set.</summary>
    internal ulong ZeroPage(uint pgno, int pageSize)
    {
        if (_zeroPageSize != pageSize)
        {
            _zeroBase = ZeroPageCrc(0, pageSize);
            for (var bit = 0; bit < _zeroBit.Length; bit++)
            {
                _zeroBit[bit] = ZeroPageCrc(1u << bit, pageSize) ^ _zeroBase;
            }
            _zeroPageSize = pageSize;
        }
        var crc = _zeroBase;
        for (var bits = pgno; bits != 0; bits &= bits - 1)
        {
            crc ^= _zeroBit[BitOperations.TrailingZeroCount(bits)];
        }
        return Checksum.FlagBit | crc;
    }

    /// <summary>CRC-64/ISO over the big-endian page number then a page of zeros (what <see cref="Checksum.OfPage"/> gives, before its flag bit).</summary>
    private static ulong ZeroPageCrc(uint pgno, int pageSize)
    {
        Span<byte> pgnoBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(pgnoBytes, pgno);
        Span<byte> zeros = stackalloc byte[LtxLayout.MaxPageSize];
        zeros[..pageSize].Clear();
        return Crc64Iso.Append(Crc64Iso.Append(0, pgnoBytes), zeros[..pageSize]);
    }

    private static (int Block, int Index) Locate(uint pgno) => ((int)((pgno - 1) / BlockSize), (int)((pgno - 1) % BlockSize));
}
