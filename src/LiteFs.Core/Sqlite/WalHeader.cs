using System.Buffers.Binary;

namespace LiteFs.Core.Sqlite;

/// <summary>The 32-byte header of a SQLite WAL file.</summary>
internal readonly record struct WalHeader(uint Magic, uint Version, int PageSize, uint CheckpointSequence, uint Salt1, uint Salt2, uint Checksum1, uint Checksum2)
{
    public const int Size = 32;
    public const int FrameHeaderSize = 24;
    public const uint MagicLittleEndian = 0x377f0682;
    public const uint MagicBigEndian = 0x377f0683;
    public const uint SupportedVersion = 3007000;

    /// <summary>Whether the checksums of this WAL read words big-endian.</summary>
    public bool BigEndianChecksums => Magic == MagicBigEndian;

    /// <summary>Whether the magic is one of SQLite's two.</summary>
    public bool HasValidMagic => Magic is MagicLittleEndian or MagicBigEndian;

    /// <summary>Decodes the fields (all big-endian) without validating them.</summary>
    public static WalHeader Read(ReadOnlySpan<byte> b)
    {
        var pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(b[8..]);
        return new WalHeader(
            BinaryPrimitives.ReadUInt32BigEndian(b),
            BinaryPrimitives.ReadUInt32BigEndian(b[4..]),
            pageSize == 1 ? 65536 : pageSize,
            BinaryPrimitives.ReadUInt32BigEndian(b[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[20..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[24..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[28..]));
    }

    /// <summary>Whether the stored header checksum matches the first 24 bytes.</summary>
    public static bool ChecksumMatches(ReadOnlySpan<byte> b, WalHeader header)
    {
        var (s0, s1) = WalChecksum.Append(header.BigEndianChecksums, 0, 0, b[..24]);
        return s0 == header.Checksum1 && s1 == header.Checksum2;
    }
}

/// <summary>The 24-byte header of a WAL frame.</summary>
internal readonly record struct WalFrameHeader(uint Pgno, uint Commit, uint Salt1, uint Salt2, uint Checksum1, uint Checksum2)
{
    public static WalFrameHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32BigEndian(b),
        BinaryPrimitives.ReadUInt32BigEndian(b[4..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[8..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[12..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[16..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[20..]));
}
