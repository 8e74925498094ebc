using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using K4os.Compression.LZ4;

namespace LiteFs.Ltx;

/// <summary>
/// Writes one standard LZ4 frame with the parameters upstream LTX writers use: 64 KiB
/// independent blocks, no block checksums, a content checksum, no content size, fast level.
/// Blocks that would not shrink are stored raw.
/// </summary>
internal sealed class Lz4FrameWriter : IDisposable
{
    public const int BlockSize = 64 * 1024;

    // FLG: version 01, block independence, content checksum. BD: maximum block size 64 KiB.
    private const byte Flg = 0b0110_0100;
    private const byte Bd = 0b0100_0000;

    private readonly Stream _output;
    private readonly XxHash32 _contentHash = new();
    private byte[]? _block = ArrayPool<byte>.Shared.Rent(BlockSize);
    private byte[]? _encoded = ArrayPool<byte>.Shared.Rent(4 + LZ4Codec.MaximumOutputSize(BlockSize));
    private int _blockLength;

    public Lz4FrameWriter(Stream output)
    {
        _output = output;
        Span<byte> header = stackalloc byte[7];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Lz4Frame.Magic);
        header[4] = Flg;
        header[5] = Bd;
        header[6] = Lz4Frame.HeaderChecksum(header[4..6]);
        _output.Write(header);
        BytesWritten = header.Length;
    }

    /// <summary>Compressed bytes written to the output so far.</summary>
    public long BytesWritten { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        var block = _block ?? throw new ObjectDisposedException(nameof(Lz4FrameWriter));
        _contentHash.Append(data);
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, BlockSize - _blockLength);
            data[..n].CopyTo(block.AsSpan(_blockLength));
            _blockLength += n;
            data = data[n..];
            if (_blockLength == BlockSize)
            {
                FlushBlock();
            }
        }
    }

    /// <summary>Writes the last block, the end mark and the content checksum.</summary>
    public void Finish()
    {
        if (_blockLength > 0)
        {
            FlushBlock();
        }
        Span<byte> end = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(end[4..], _contentHash.GetCurrentHashAsUInt32());
        _output.Write(end);
        BytesWritten += end.Length;
    }

    private void FlushBlock()
    {
        var encoded = _encoded!;
        var source = _block.AsSpan(0, _blockLength);
        var size = LZ4Codec.Encode(source, encoded.AsSpan(4), LZ4Level.L00_FAST);
        if (size > 0 && size < source.Length)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(encoded, (uint)size);
            _output.Write(encoded, 0, 4 + size);
        }
        else
        {
            // Stored as it is, from the block buffer itself (no copy next to the failed attempt).
            size = source.Length;
            BinaryPrimitives.WriteUInt32LittleEndian(encoded, (uint)size | Lz4Frame.UncompressedBit);
            _output.Write(encoded, 0, 4);
            _output.Write(source);
        }
        BytesWritten += 4 + size;
        _blockLength = 0;
    }

    public void Dispose()
    {
        if (_block is { } block)
        {
            ArrayPool<byte>.Shared.Return(block);
            _block = null;
        }
        if (_encoded is { } encoded)
        {
            ArrayPool<byte>.Shared.Return(encoded);
            _encoded = null;
        }
    }
}

/// <summary>Constants of the LZ4 frame format.</summary>
internal static class Lz4Frame
{
    public const uint Magic = 0x184D2204;
    public const uint SkippableMagicMin = 0x184D2A50;
    public const uint SkippableMagicMax = 0x184D2A5F;
    public const uint UncompressedBit = 0x80000000;

    /// <summary>The frame descriptor's header checksum: second byte of xxHash32 of the descriptor.</summary>
    public static byte HeaderChecksum(ReadOnlySpan<byte> descriptor) => (byte)(XxHash32.HashToUInt32(descriptor) >> 8);

    /// <summary>Maximum block size for a BD block-size code, or 0 if the code is not defined.</summary>
    public static int MaxBlockSize(int code) => code switch
    {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        _ => 0,
    };
}
