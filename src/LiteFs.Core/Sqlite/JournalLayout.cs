using System.Buffers.Binary;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// A SQLite rollback journal (sqlite.org/fileformat2.html, "The Rollback Journal"): a header
/// padded to the sector size, then records of (page number, original page, checksum); a journal
/// may hold several such segments.
/// </summary>
internal static class JournalLayout
{
    /// <summary>Size of the header fields (the header itself is padded to the sector size).</summary>
    public const int HeaderSize = RecordCountOffset + 20;

    // Header field offsets, each a big-endian u32 after the 8-byte magic.
    private const int MagicOffset = 0;
    private const int RecordCountOffset = MagicOffset + 8;  // 0 or 0xFFFFFFFF: as many as fit
    private const int NonceOffset = RecordCountOffset + 4;
    private const int InitialPagesOffset = NonceOffset + 4;
    private const int SectorSizeOffset = InitialPagesOffset + 4;
    private const int PageSizeOffset = SectorSizeOffset + 4;

    /// <summary>The 8-byte magic a valid journal header starts with.</summary>
    public static ReadOnlySpan<byte> Magic => [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

    /// <summary>Whether <paramref name="header"/> starts with the magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> header) => header.StartsWith(Magic);

    /// <summary>
    /// Whether a write is journal_mode=PERSIST's commit point: SQLite overwrites the header with
    /// zeros to finish a transaction.
    /// </summary>
    public static bool IsZeroedHeader(long offset, ReadOnlySpan<byte> data) =>
        offset == 0 && data.Length == HeaderSize && !data.ContainsAnyExcept((byte)0);

    /// <summary>The fields of a segment header.</summary>
    public static (uint RecordCount, uint Nonce, uint InitialPages, int SectorSize, int PageSize) ReadHeader(ReadOnlySpan<byte> header) => (
        BinaryPrimitives.ReadUInt32BigEndian(header[RecordCountOffset..]),
        BinaryPrimitives.ReadUInt32BigEndian(header[NonceOffset..]),
        BinaryPrimitives.ReadUInt32BigEndian(header[InitialPagesOffset..]),
        (int)BinaryPrimitives.ReadUInt32BigEndian(header[SectorSizeOffset..]),
        (int)BinaryPrimitives.ReadUInt32BigEndian(header[PageSizeOffset..]));

    /// <summary>The page size field of a header SQLite is writing (at least <see cref="HeaderSize"/> bytes).</summary>
    public static uint ReadPageSize(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt32BigEndian(header[PageSizeOffset..]);

    /// <summary>Size of one record for <paramref name="pageSize"/>: page number, page, checksum.</summary>
    public static int RecordSize(int pageSize) => 4 + pageSize + 4;

    /// <summary>The page number of a record.</summary>
    public static uint RecordPgno(ReadOnlySpan<byte> record) => BinaryPrimitives.ReadUInt32BigEndian(record);

    /// <summary>The original page a record holds.</summary>
    public static ReadOnlySpan<byte> RecordPage(ReadOnlySpan<byte> record, int pageSize) => record.Slice(4, pageSize);

    /// <summary>
    /// Whether a record's checksum verifies: the nonce plus every 200th byte of the page, from
    /// the end, as SQLite's pager computes it.
    /// </summary>
    public static bool RecordChecksumMatches(ReadOnlySpan<byte> record, int pageSize, uint nonce)
    {
        var page = RecordPage(record, pageSize);
        var sum = nonce;
        for (var k = pageSize - 200; k > 0; k -= 200)
        {
            sum += page[k];
        }
        return sum == BinaryPrimitives.ReadUInt32BigEndian(record[(4 + pageSize)..]);
    }
}
