using System.Buffers.Binary;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Deterministic, SQLite-like page contents for the LTX benchmarks. Every page is half random bytes
/// (incompressible: record payloads, rowids, pointers) and half a repeated line of SQL text (very
/// compressible), so LZ4 sees roughly what it sees on a real database: about half the page shrinks.
/// Page 1 starts with a valid 100-byte SQLite header, so the image is also a database file that
/// <see cref="LiteFs.Ltx.SqliteDatabase"/> accepts.
/// </summary>
public static class SqliteImage
{
    /// <summary>Page size used by every LTX benchmark.</summary>
    public const int PageSize = 4096;

    /// <summary>Seed of the random half; fixed so every run measures the same bytes.</summary>
    public const int Seed = 0x5EED_4C54;

    private static ReadOnlySpan<byte> Text =>
        "INSERT INTO events(id, node, kind, payload) VALUES (4242, 'primary', 'ltx', 'replicated page payload');\n"u8;

    /// <summary>A database image of <paramref name="pageCount"/> pages: page n is at offset (n - 1) * PageSize.</summary>
    public static byte[] Create(int pageCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        var image = new byte[pageCount * PageSize];
        var random = new Random(Seed);
        for (var i = 0; i < pageCount; i++)
        {
            var page = image.AsSpan(i * PageSize, PageSize);
            random.NextBytes(page[..(PageSize / 2)]);
            var text = page[(PageSize / 2)..];
            for (var offset = 0; offset < text.Length; offset += Text.Length)
            {
                var n = Math.Min(Text.Length, text.Length - offset);
                Text[..n].CopyTo(text[offset..]);
            }
        }
        WriteHeader(image.AsSpan(0, 100), pageCount);
        return image;
    }

    /// <summary>One page of an image made by <see cref="Create"/>; <paramref name="pgno"/> counts from 1.</summary>
    public static ReadOnlySpan<byte> Page(byte[] image, uint pgno) => image.AsSpan((int)(pgno - 1) * PageSize, PageSize);

    // The SQLite file header (https://www.sqlite.org/fileformat.html#the_database_header).
    private static void WriteHeader(Span<byte> h, int pageCount)
    {
        h.Clear();
        "SQLite format 3\0"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt16BigEndian(h[16..], PageSize);
        h[18] = 1; // file format write version: legacy (rollback journal)
        h[19] = 1; // file format read version
        h[20] = 0; // reserved bytes per page
        h[21] = 64; // max embedded payload fraction
        h[22] = 32; // min embedded payload fraction
        h[23] = 32; // leaf payload fraction
        BinaryPrimitives.WriteUInt32BigEndian(h[24..], 7); // file change counter
        BinaryPrimitives.WriteUInt32BigEndian(h[28..], (uint)pageCount); // database size in pages
        BinaryPrimitives.WriteUInt32BigEndian(h[40..], 3); // schema cookie
        BinaryPrimitives.WriteUInt32BigEndian(h[44..], 4); // schema format number
        BinaryPrimitives.WriteUInt32BigEndian(h[56..], 1); // text encoding: UTF-8
        BinaryPrimitives.WriteUInt32BigEndian(h[92..], 7); // version-valid-for = change counter
        BinaryPrimitives.WriteUInt32BigEndian(h[96..], 3_046_001); // SQLITE_VERSION_NUMBER
    }
}
