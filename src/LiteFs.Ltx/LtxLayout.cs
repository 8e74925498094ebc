namespace LiteFs.Ltx;

/// <summary>Byte offsets and sizes of the LTX container, derived in one place.</summary>
public static class LtxLayout
{
    /// <summary>Size of the file header.</summary>
    public const int HeaderSize = 100;

    /// <summary>Size of a page header (the 4-byte page number).</summary>
    public const int PageHeaderSize = 4;

    /// <summary>Size of the trailer.</summary>
    public const int TrailerSize = 16;

    /// <summary>Size of a checksum.</summary>
    public const int ChecksumSize = 8;

    // Header field offsets, each derived from the previous one.
    internal const int Magic = 0;
    internal const int Flags = Magic + 4;
    internal const int PageSize = Flags + 4;
    internal const int Commit = PageSize + 4;
    internal const int MinTxId = Commit + 4;
    internal const int MaxTxId = MinTxId + 8;
    internal const int Timestamp = MaxTxId + 8;
    internal const int PreApplyChecksum = Timestamp + 8;
    internal const int WalOffset = PreApplyChecksum + 8;
    internal const int WalSize = WalOffset + 8;
    internal const int WalSalt1 = WalSize + 8;
    internal const int WalSalt2 = WalSalt1 + 4;
    internal const int NodeId = WalSalt2 + 4;
    internal const int Reserved = NodeId + 8;

    // Trailer field offsets.
    internal const int PostApplyChecksum = 0;
    internal const int FileChecksum = PostApplyChecksum + ChecksumSize;

    /// <summary>The file magic, ASCII <c>LTX1</c>.</summary>
    public static ReadOnlySpan<byte> MagicBytes => "LTX1"u8;

    /// <summary>Header flag: the page block is one LZ4 frame.</summary>
    public const uint FlagCompressLz4 = 0x00000001;

    /// <summary>Every header flag this version understands.</summary>
    public const uint FlagMask = FlagCompressLz4;

    /// <summary>Smallest valid page size.</summary>
    public const int MinPageSize = 512;

    /// <summary>Largest valid page size.</summary>
    public const int MaxPageSize = 65536;

    /// <summary>Offset of SQLite's PENDING byte; the page holding it is never written.</summary>
    public const long PendingByte = 0x40000000;

    /// <summary>Whether <paramref name="pageSize"/> is a power of two from 512 to 65536.</summary>
    public static bool IsValidPageSize(long pageSize) =>
        pageSize is >= MinPageSize and <= MaxPageSize && (pageSize & (pageSize - 1)) == 0;

    /// <summary>The page number of SQLite's lock page for a page size.</summary>
    public static uint LockPageNumber(int pageSize) => (uint)(PendingByte / pageSize) + 1;

    /// <summary>Size of an uncompressed LTX file holding <paramref name="pageCount"/> pages.</summary>
    public static long UncompressedFileSize(int pageSize, long pageCount) =>
        HeaderSize + (pageCount * (PageHeaderSize + pageSize)) + PageHeaderSize + TrailerSize;
}
