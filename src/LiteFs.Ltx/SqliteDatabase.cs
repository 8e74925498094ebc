using System.Buffers;
using System.Buffers.Binary;

namespace LiteFs.Ltx;

/// <summary>Facts read from a raw SQLite database file, and its LTX rolling checksum.</summary>
public static class SqliteDatabase
{
    /// <summary>Size of the SQLite file header.</summary>
    public const int HeaderSize = 100;

    private const int PageSizeOffset = 16;

    /// <summary>
    /// The page size stored in a SQLite header (big-endian u16 at offset 16, where 1 means 65536),
    /// or 0 if the header is too short or the value is not a valid page size.
    /// </summary>
    public static int ReadPageSize(ReadOnlySpan<byte> header)
    {
        if (header.Length < PageSizeOffset + 2)
        {
            return 0;
        }
        int size = BinaryPrimitives.ReadUInt16BigEndian(header[PageSizeOffset..]);
        if (size == 1)
        {
            size = 65536;
        }
        return LtxLayout.IsValidPageSize(size) ? size : 0;
    }

    /// <summary>
    /// The page size of the database in <paramref name="db"/>, read from its header; throws
    /// <see cref="InvalidDataException"/> saying what is wrong when it is not a SQLite database.
    /// </summary>
    public static int ReadPageSize(Stream db, string name)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        db.Position = 0;
        var n = db.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (n < HeaderSize)
        {
            throw new InvalidDataException($"{name} is not a SQLite database: it has {n} bytes, less than the {HeaderSize}-byte header");
        }
        var pageSize = ReadPageSize(header);
        if (pageSize == 0)
        {
            throw new InvalidDataException(
                $"{name} is not a SQLite database: its header gives page size {BinaryPrimitives.ReadUInt16BigEndian(header[PageSizeOffset..])} at offset {PageSizeOffset} (want a power of two from 512 to 65536)");
        }
        return pageSize;
    }

    /// <summary>
    /// The rolling LTX checksum of a whole database file: the XOR of every page's checksum, lock
    /// page excluded, bit 63 set. An empty file (no pages) gives <see cref="Checksum.Flag"/>.
    /// </summary>
    public static Checksum ComputeChecksum(Stream db, string name = "database")
    {
        ArgumentNullException.ThrowIfNull(db);
        if (db.Length == 0)
        {
            return Checksum.Flag;
        }
        var pageSize = ReadPageSize(db, name);
        if (db.Length % pageSize != 0)
        {
            throw new InvalidDataException($"{name} is {db.Length} bytes, not a whole number of {pageSize}-byte pages: the file is truncated or not a database");
        }
        var pageCount = (uint)(db.Length / pageSize);
        var lockPgno = LtxLayout.LockPageNumber(pageSize);
        var checksum = Checksum.Flag;
        var buffer = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            db.Position = 0;
            var page = buffer.AsSpan(0, pageSize);
            for (uint pgno = 1; pgno <= pageCount; pgno++)
            {
                db.ReadExactly(page);
                if (pgno != lockPgno)
                {
                    checksum = checksum.Xor(Checksum.OfPage(pgno, page));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return checksum;
    }
}
