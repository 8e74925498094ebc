using System.Buffers.Binary;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// The 32-byte header of a SQLite WAL file (sqlite.org/fileformat2.html, "WAL File Format"):
/// big-endian fields at offsets derived in one place.
/// </summary>
internal readonly record struct WalHeader(uint Magic, uint Version, int PageSize, uint CheckpointSequence, uint Salt1, uint Salt2, uint Checksum1, uint Checksum2)
{
    public const int Size = Checksum2Offset + 4;
    public const int FrameHeaderSize = WalFrameHeader.Size;
    public const uint MagicLittleEndian = 0x377f0682;
    public const uint MagicBigEndian = 0x377f0683;
    public const uint SupportedVersion = 3007000;

    // Field offsets.
    private const int MagicOffset = 0;
    private const int VersionOffset = MagicOffset + 4;
    private const int PageSizeOffset = VersionOffset + 4;  // 1 means 65536
    private const int SequenceOffset = PageSizeOffset + 4;
    private const int Salt1Offset = SequenceOffset + 4;
    private const int Salt2Offset = Salt1Offset + 4;
    private const int Checksum1Offset = Salt2Offset + 4;   // over the 24 bytes before
    private const int Checksum2Offset = Checksum1Offset + 4;

    /// <summary>The bytes the header checksum covers.</summary>
    public const int ChecksummedSize = Checksum1Offset;

    /// <summary>Whether the checksums of this WAL read words big-endian.</summary>
    public bool BigEndianChecksums => Magic == MagicBigEndian;

    /// <summary>Whether the magic is one of SQLite's two.</summary>
    public bool HasValidMagic => Magic is MagicLittleEndian or MagicBigEndian;

    /// <summary>Decodes the fields without validating them.</summary>
    public static WalHeader Read(ReadOnlySpan<byte> b)
    {
        var pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(b[PageSizeOffset..]);
        return new WalHeader(
            BinaryPrimitives.ReadUInt32BigEndian(b[MagicOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[VersionOffset..]),
            pageSize == 1 ? 65536 : pageSize,
            BinaryPrimitives.ReadUInt32BigEndian(b[SequenceOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[Salt1Offset..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[Salt2Offset..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[Checksum1Offset..]),
            BinaryPrimitives.ReadUInt32BigEndian(b[Checksum2Offset..]));
    }

    /// <summary>Whether the stored header checksum matches the bytes before it.</summary>
    public static bool ChecksumMatches(ReadOnlySpan<byte> b, WalHeader header)
    {
        var (s0, s1) = WalChecksum.Append(header.BigEndianChecksums, 0, 0, b[..ChecksummedSize]);
        return s0 == header.Checksum1 && s1 == header.Checksum2;
    }
}

/// <summary>The 24-byte header of a WAL frame: big-endian fields.</summary>
internal readonly record struct WalFrameHeader(uint Pgno, uint Commit, uint Salt1, uint Salt2, uint Checksum1, uint Checksum2)
{
    public const int Size = Checksum2Offset + 4;

    private const int PgnoOffset = 0;
    private const int CommitOffset = PgnoOffset + 4;       // database size after a commit frame, else 0
    private const int Salt1Offset = CommitOffset + 4;
    private const int Salt2Offset = Salt1Offset + 4;
    private const int Checksum1Offset = Salt2Offset + 4;   // cumulative, over the first 8 bytes and the page
    private const int Checksum2Offset = Checksum1Offset + 4;

    /// <summary>The frame header bytes the cumulative checksum covers (with the page).</summary>
    public const int ChecksummedSize = Salt1Offset;

    public static WalFrameHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt32BigEndian(b[PgnoOffset..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[CommitOffset..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[Salt1Offset..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[Salt2Offset..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[Checksum1Offset..]),
        BinaryPrimitives.ReadUInt32BigEndian(b[Checksum2Offset..]));
}

/// <summary>
/// Where the node is in a WAL generation: the header it adopted (byte order, salts) and, at
/// <see cref="Offset"/>, the end of the last transaction it recorded with the running checksum
/// there. Offset 0: no generation adopted (the salts and checksum of the last one are kept, for
/// the SHM header the node writes).
/// </summary>
internal sealed record WalCursor(bool BigEndian, uint Salt1, uint Salt2, uint S0, uint S1, long Offset)
{
    /// <summary>Before any WAL was seen.</summary>
    public static WalCursor None { get; } = new(false, 0, 0, 0, 0, 0);

    /// <summary>The start of the generation <paramref name="header"/> begins: its frames follow it.</summary>
    public static WalCursor Start(in WalHeader header) =>
        new(header.BigEndianChecksums, header.Salt1, header.Salt2, header.Checksum1, header.Checksum2, WalHeader.Size);

    /// <summary>Whether a generation is adopted.</summary>
    public bool IsOpen => Offset != 0;

    /// <summary>Whether <paramref name="header"/> is the adopted generation's.</summary>
    public bool IsGeneration(in WalHeader header) => IsOpen && header.Salt1 == Salt1 && header.Salt2 == Salt2;
}
