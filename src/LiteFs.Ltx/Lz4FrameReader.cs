using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using K4os.Compression.LZ4;

namespace LiteFs.Ltx;

/// <summary>
/// Reads one LZ4 frame from a stream, consuming exactly the frame's bytes (never reading ahead
/// into what follows it), and verifying every checksum the frame declares. Accepts every
/// standard frame option: block sizes 64 KiB to 4 MiB, linked or independent blocks, block
/// checksums, content checksum and content size; skippable frames before it are skipped.
/// </summary>
internal sealed class Lz4FrameReader : IDisposable
{
    private const int HistorySize = 64 * 1024;

    private readonly RawReader _raw;
    private readonly XxHash32? _contentHash;
    private readonly bool _blockChecksums;
    private readonly bool _linkedBlocks;
    private readonly long _declaredContentSize = -1;
    private readonly int _maxBlockSize;
    private byte[]? _compressed;
    private byte[]? _decoded;
    private byte[]? _history;
    private int _historyLength;
    private int _position;
    private int _length;
    private long _contentLength;
    private bool _endMarkSeen;

    public Lz4FrameReader(RawReader raw)
    {
        _raw = raw;
        Span<byte> word = stackalloc byte[4];
        var magic = ReadMagic(word);
        var descriptorOffset = _raw.Offset;

        Span<byte> descriptor = stackalloc byte[14];
        _raw.ReadExactly(descriptor[..2], "lz4 frame descriptor");
        var flg = descriptor[0];
        var bd = descriptor[1];
        if (flg >> 6 != 1)
        {
            throw Error("lz4 frame descriptor", descriptorOffset, $"unsupported LZ4 frame version {flg >> 6} in FLG byte 0x{flg:x2} (want 1); magic was 0x{magic:x8}");
        }
        if ((flg & 0b10) != 0 || (bd & 0b1000_1111) != 0)
        {
            throw Error("lz4 frame descriptor", descriptorOffset, $"reserved bits set in FLG 0x{flg:x2} / BD 0x{bd:x2}");
        }
        _maxBlockSize = Lz4Frame.MaxBlockSize((bd >> 4) & 0b111);
        if (_maxBlockSize == 0)
        {
            throw Error("lz4 frame descriptor", descriptorOffset + 1, $"invalid block maximum size code {(bd >> 4) & 0b111} in BD byte 0x{bd:x2} (want 4 to 7)");
        }
        _linkedBlocks = (flg & 0b0010_0000) == 0;
        _blockChecksums = (flg & 0b0001_0000) != 0;
        var hasContentSize = (flg & 0b0000_1000) != 0;
        var hasContentChecksum = (flg & 0b0000_0100) != 0;
        var hasDictionary = (flg & 0b0000_0001) != 0;

        var length = 2;
        if (hasContentSize)
        {
            _raw.ReadExactly(descriptor.Slice(length, 8), "lz4 frame content size");
            _declaredContentSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(descriptor.Slice(length, 8));
            length += 8;
        }
        if (hasDictionary)
        {
            throw Error("lz4 frame descriptor", descriptorOffset, "the LZ4 frame needs an external dictionary, which LTX files never use");
        }
        Span<byte> hc = stackalloc byte[1];
        _raw.ReadExactly(hc, "lz4 frame header checksum");
        var expected = Lz4Frame.HeaderChecksum(descriptor[..length]);
        if (hc[0] != expected)
        {
            throw Error("lz4 frame header checksum", _raw.Offset - 1, $"header checksum 0x{hc[0]:x2} does not match computed 0x{expected:x2}");
        }
        if (hasContentChecksum)
        {
            _contentHash = new XxHash32();
        }
        _compressed = ArrayPool<byte>.Shared.Rent(_maxBlockSize);
        _decoded = ArrayPool<byte>.Shared.Rent(_maxBlockSize);
        if (_linkedBlocks)
        {
            _history = ArrayPool<byte>.Shared.Rent(HistorySize);
        }
    }

    /// <summary>
    /// Copies decompressed bytes into <paramref name="destination"/>; returns how many, fewer than
    /// asked only when the frame's content ends.
    /// </summary>
    public int Read(Span<byte> destination)
    {
        var total = 0;
        while (!destination.IsEmpty)
        {
            if (_position == _length && !NextBlock())
            {
                break;
            }
            var n = Math.Min(destination.Length, _length - _position);
            _decoded.AsSpan(_position, n).CopyTo(destination);
            _position += n;
            total += n;
            destination = destination[n..];
        }
        return total;
    }

    /// <summary>
    /// Requires the frame's content to be over: no decompressed byte left, then the end mark and
    /// the checksums. Leaves the stream positioned right after the frame.
    /// </summary>
    public void ReadEnd()
    {
        if (_position < _length || (!_endMarkSeen && NextBlock()))
        {
            throw Error("lz4 frame", _raw.Offset, "expected lz4 end frame: decompressed data continues after the LTX end marker");
        }
    }

    private bool NextBlock()
    {
        if (_endMarkSeen)
        {
            return false;
        }
        Span<byte> word = stackalloc byte[4];
        var blockOffset = _raw.Offset;
        _raw.ReadExactly(word, "lz4 block size");
        var sizeField = BinaryPrimitives.ReadUInt32LittleEndian(word);
        if (sizeField == 0)
        {
            FinishFrame(word);
            return false;
        }
        var stored = (sizeField & Lz4Frame.UncompressedBit) != 0;
        var size = (int)(sizeField & ~Lz4Frame.UncompressedBit);
        if (size > _maxBlockSize)
        {
            throw Error("lz4 block size", blockOffset, $"block of {size} bytes exceeds the frame's maximum block size {_maxBlockSize}");
        }
        // A stored block is read straight into the decoded buffer: there is nothing to decompress.
        var compressed = (stored ? _decoded : _compressed).AsSpan(0, size);
        _raw.ReadExactly(compressed, "lz4 block");
        if (_blockChecksums)
        {
            _raw.ReadExactly(word, "lz4 block checksum");
            var want = BinaryPrimitives.ReadUInt32LittleEndian(word);
            var got = XxHash32.HashToUInt32(compressed);
            if (want != got)
            {
                throw Error("lz4 block checksum", _raw.Offset - 4, $"block checksum 0x{want:x8} does not match computed 0x{got:x8}");
            }
        }
        var decoded = _decoded.AsSpan(0, _maxBlockSize);
        int length;
        if (stored)
        {
            length = size;
        }
        else
        {
            length = _linkedBlocks
                ? LZ4Codec.Decode(compressed, decoded, _history.AsSpan(0, _historyLength))
                : LZ4Codec.Decode(compressed, decoded);
            if (length < 0)
            {
                throw Error("lz4 block", blockOffset, $"corrupt LZ4 block of {size} bytes: it does not decompress");
            }
        }
        _contentHash?.Append(decoded[..length]);
        _contentLength += length;
        if (_linkedBlocks)
        {
            Remember(decoded[..length]);
        }
        _position = 0;
        _length = length;
        return length > 0 || NextBlock();
    }

    private void Remember(ReadOnlySpan<byte> block)
    {
        var history = _history!;
        if (block.Length >= HistorySize)
        {
            block[^HistorySize..].CopyTo(history);
            _historyLength = HistorySize;
            return;
        }
        var keep = Math.Min(_historyLength, HistorySize - block.Length);
        history.AsSpan(_historyLength - keep, keep).CopyTo(history);
        block.CopyTo(history.AsSpan(keep));
        _historyLength = keep + block.Length;
    }

    private void FinishFrame(Span<byte> word)
    {
        _endMarkSeen = true;
        _position = _length = 0;
        if (_contentHash is not null)
        {
            _raw.ReadExactly(word, "lz4 content checksum");
            var want = BinaryPrimitives.ReadUInt32LittleEndian(word);
            var got = _contentHash.GetCurrentHashAsUInt32();
            if (want != got)
            {
                throw Error("lz4 content checksum", _raw.Offset - 4, $"content checksum 0x{want:x8} does not match computed 0x{got:x8}");
            }
        }
        if (_declaredContentSize >= 0 && _declaredContentSize != _contentLength)
        {
            throw Error("lz4 frame content size", _raw.Offset, $"frame declares {_declaredContentSize} bytes of content, {_contentLength} were decoded");
        }
    }

    private uint ReadMagic(Span<byte> word)
    {
        Span<byte> scratch = stackalloc byte[256];
        while (true)
        {
            var offset = _raw.Offset;
            _raw.ReadExactly(word, "lz4 frame magic");
            var magic = BinaryPrimitives.ReadUInt32LittleEndian(word);
            if (magic == Lz4Frame.Magic)
            {
                return magic;
            }
            if (magic is < Lz4Frame.SkippableMagicMin or > Lz4Frame.SkippableMagicMax)
            {
                throw Error("lz4 frame magic", offset, $"bad LZ4 frame magic 0x{magic:x8} (want 0x{Lz4Frame.Magic:x8}): the compressed page block is corrupt");
            }
            _raw.ReadExactly(word, "lz4 skippable frame size");
            var skip = BinaryPrimitives.ReadUInt32LittleEndian(word);
            while (skip > 0)
            {
                var n = (int)Math.Min(skip, (uint)scratch.Length);
                _raw.ReadExactly(scratch[..n], "lz4 skippable frame");
                skip -= (uint)n;
            }
        }
    }

    private static LtxFormatException Error(string field, long offset, string detail) => new(field, offset, detail);

    public void Dispose()
    {
        Return(ref _compressed);
        Return(ref _decoded);
        Return(ref _history);
    }

    private static void Return(ref byte[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
        }
    }
}
