using System.Buffers.Binary;
using LiteFs.Ltx;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// The 100-byte header at the start of a SQLite database file (sqlite.org/fileformat2.html,
/// "The Database Header"): the fields the node reads, at offsets derived in one place.
/// </summary>
internal static class DatabaseHeader
{
    /// <summary>Size of the header.</summary>
    public const int Size = SqliteDatabase.HeaderSize;

    // Field offsets.
    private const int MagicOffset = 0;
    private const int PageSizeOffset = MagicOffset + 16;   // u16 big-endian; 1 means 65536
    private const int WriteVersionOffset = PageSizeOffset + 2;
    private const int ReadVersionOffset = WriteVersionOffset + 1;
    private const int PageCountOffset = 28;                // u32 big-endian, the "in-header database size"

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

    /// <summary>Whether the header (or page 1) marks the database as being in WAL mode.</summary>
    public static bool IsWal(ReadOnlySpan<byte> header) =>
        header.Length > ReadVersionOffset && header[WriteVersionOffset] == WalFormat && header[ReadVersionOffset] == WalFormat;

    /// <summary>The journal mode the header states: WAL, or a rollback journal.</summary>
    public static JournalMode ReadMode(ReadOnlySpan<byte> header) => IsWal(header) ? JournalMode.Wal : JournalMode.Rollback;
}
