using System.Buffers.Binary;

namespace LiteFs.Ltx;

/// <summary>The 16-byte LTX trailer.</summary>
/// <param name="PostApplyChecksum">The database's rolling checksum after the file is applied.</param>
/// <param name="FileChecksum">CRC-64/ISO of header, uncompressed page block and <paramref name="PostApplyChecksum"/>, bit 63 set.</param>
public readonly record struct LtxTrailer(Checksum PostApplyChecksum, Checksum FileChecksum)
{
    /// <summary>Writes the trailer into the first 16 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.PostApplyChecksum..], PostApplyChecksum.Value);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.FileChecksum..], FileChecksum.Value);
    }

    /// <summary>Decodes a trailer from the first 16 bytes of <paramref name="source"/>.</summary>
    public static LtxTrailer Read(ReadOnlySpan<byte> source) => new(
        new Checksum(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.PostApplyChecksum..])),
        new Checksum(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.FileChecksum..])));
}

/// <summary>A page frame's header: the page number.</summary>
/// <param name="Pgno">The 1-based page number; 0 marks the end of the page block.</param>
public readonly record struct PageHeader(uint Pgno)
{
    /// <summary>Writes the 4-byte page number.</summary>
    public void Write(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, Pgno);

    /// <summary>Reads the 4-byte page number.</summary>
    public static PageHeader Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt32BigEndian(source));
}
