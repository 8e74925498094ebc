using System.Buffers.Binary;
using LiteFs.Ltx;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// The 100-byte header at the start of a SQLite database file (sqlite.org/fileformat2.html,
/// "The Database Header"): the fields the node reads, at offsets derived in one place.
/// </summary>
public static class DatabaseHeader
{
    /// <summary>Size of the header.</summary>
    public const int Size = SqliteDatabase.HeaderSize;

    // Field offsets.
    private const int MagicOffset = 0;
    private const int PageSizeOffset = MagicOffset + 16;   // u16 big-endian; 1 means 65536
    private const int WriteVersionOffset = PageSizeOffset + 2;
    private const int ReadVersionOffset = WriteVersionOffset + 1;
    private const int ChangeCounterOffset = 24;            // u32 big-endian, the file change counter
    private const int PageCountOffset = ChangeCounterOffset + 4; // u32 big-endian, the "in-header database size"
    private const int SchemaCookieOffset = 40;             // u32 big-endian
    private const int VersionValidForOffset = 92;          // u32 big-endian: the change counter the page count is valid for

    /// <summary>File format version 2 in both version bytes: the database is in WAL mode.</summary>
    private const byte WalFormat = 2;

    /// <summary>The magic string the file starts with.</summary>
    public static ReadOnlySpan<byte> Magic => "SQLite format 3\0"u8;

    /// <summary>Whether <paramref name="header"/> starts with the magic string.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> header) => header.StartsWith(Magic);

    /// <summary>The page size, or 0 when the header is too short or the value is invalid.</summary>
    public static int ReadPageSize(ReadOnlySpan<byte> header) => SqliteDatabase.ReadPageSize(header);

    /// <summary>The database size in pages as the header states it, or 0 when the header is too short.</summary>
    public static uint ReadPageCount(ReadOnlySpan<byte> header) =>
        header.Length < PageCountOffset + 4 ? 0 : BinaryPrimitives.ReadUInt32BigEndian(header[PageCountOffset..]);

    /// <summary>The file change counter, which SQLite increments with every transaction in rollback-journal mode; 0 when the header is too short.</summary>
    public static uint ReadChangeCounter(ReadOnlySpan<byte> header) =>
        header.Length < ChangeCounterOffset + 4 ? 0 : BinaryPrimitives.ReadUInt32BigEndian(header[ChangeCounterOffset..]);

    /// <summary>Whether the header (or page 1) marks the database as being in WAL mode.</summary>
    public static bool IsWal(ReadOnlySpan<byte> header) =>
        header.Length > ReadVersionOffset && header[WriteVersionOffset] == WalFormat && header[ReadVersionOffset] == WalFormat;

    /// <summary>The journal mode the header states: WAL, or a rollback journal.</summary>
    public static JournalMode ReadMode(ReadOnlySpan<byte> header) => IsWal(header) ? JournalMode.Wal : JournalMode.Rollback;

    /// <summary>
    /// Whether the header's database size can be trusted: SQLite writes it with the change
    /// counter it is valid for (older writers leave it stale, and then it is not used).
    /// </summary>
    public static bool HasValidPageCount(ReadOnlySpan<byte> header) =>
        header.Length >= Size
        && BinaryPrimitives.ReadUInt32BigEndian(header[VersionValidForOffset..]) == BinaryPrimitives.ReadUInt32BigEndian(header[ChangeCounterOffset..])
        && ReadPageCount(header) != 0;

    /// <summary>
    /// Zeroes the file change counter and the schema cookie of page 1: an imported database
    /// replaces another, and connections that cached the old one's schema read it again.
    /// </summary>
    public static void ClearChangeCounters(Span<byte> page1)
    {
        BinaryPrimitives.WriteUInt32BigEndian(page1[ChangeCounterOffset..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(page1[SchemaCookieOffset..], 0);
    }

    /// <summary>
    /// Why the file at <paramref name="path"/> cannot be a whole SQLite database (not one, a page
    /// size it cannot have, cut short of the size its header states), or null when it can.
    /// </summary>
    public static string? CheckFile(string path)
    {
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var length = RandomAccess.GetLength(file);
        Span<byte> header = stackalloc byte[Size];
        if (length < Size || RandomAccess.Read(file, header, 0) < Size || !HasMagic(header))
        {
            return "not a SQLite database (no \"SQLite format 3\" header)";
        }
        var pageSize = ReadPageSize(header);
        if (pageSize == 0)
        {
            return "not a SQLite database (invalid page size in its header)";
        }
        if (length % pageSize != 0)
        {
            return $"the file is {length} bytes, not a whole number of {pageSize}-byte pages: it was cut short";
        }
        if (HasValidPageCount(header) && (long)ReadPageCount(header) * pageSize != length)
        {
            return $"its header says {ReadPageCount(header)} pages of {pageSize} bytes but the file has {length / pageSize}: it was cut short or is still being written";
        }
        return null;
    }
}
