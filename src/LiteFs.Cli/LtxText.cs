using System.Globalization;
using System.Text;
using LiteFs.Ltx;

namespace LiteFs.Cli;

/// <summary>Text forms of LTX files, laid out as upstream's <c>ltx</c> tool prints them.</summary>
internal static class LtxText
{
    public static readonly string[] ListColumns =
        ["min_txid", "max_txid", "commit", "pages", "preapply", "postapply", "timestamp", "wal_offset", "wal_size", "wal_salt"];

    public static void WriteDumpHeader(TextWriter w, in LtxHeader h)
    {
        w.WriteLine("# HEADER");
        w.WriteLine("Version:   1");
        w.WriteLine($"Flags:     0x{h.Flags:x8}");
        w.WriteLine($"Page size: {h.PageSize}");
        w.WriteLine($"Commit:    {h.Commit}");
        w.WriteLine($"Min TXID:  {h.MinTxId} ({h.MinTxId.Value})");
        w.WriteLine($"Max TXID:  {h.MaxTxId} ({h.MaxTxId.Value})");
        w.WriteLine($"Timestamp: {FormatMillis(h.Timestamp)} ({h.Timestamp})");
        w.WriteLine($"Pre-apply: {h.PreApplyChecksum}");
        w.WriteLine($"WAL offset: {h.WalOffset}");
        w.WriteLine($"WAL size:   {h.WalSize}");
        w.WriteLine($"WAL salt:   {h.WalSalt1:x8} {h.WalSalt2:x8}");
        w.WriteLine();
        w.WriteLine("# PAGE DATA");
    }

    public static void WriteDumpTrailer(TextWriter w, in LtxTrailer t)
    {
        w.WriteLine();
        w.WriteLine("# TRAILER");
        w.WriteLine($"Post-apply:    {t.PostApplyChecksum}");
        w.WriteLine($"File Checksum: {t.FileChecksum}");
        w.WriteLine();
    }

    public static string[] ListRow(in LtxHeader h, in LtxTrailer t, int pages) =>
    [
        h.MinTxId.ToString(),
        h.MaxTxId.ToString(),
        h.Commit.ToString(CultureInfo.InvariantCulture),
        pages.ToString(CultureInfo.InvariantCulture),
        h.PreApplyChecksum.ToString(),
        t.PostApplyChecksum.ToString(),
        h.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        h.WalOffset.ToString(CultureInfo.InvariantCulture),
        h.WalSize.ToString(CultureInfo.InvariantCulture),
        $"{h.WalSalt1:x8} {h.WalSalt2:x8}",
    ];

    /// <summary>
    /// UTC time with up to millisecond precision and trailing zeros of the fraction dropped
    /// (<c>02:46:14.31Z</c>, <c>02:46:14Z</c>), as upstream's dump prints it.
    /// </summary>
    public static string FormatMillis(long unixMillis)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(unixMillis).UtcDateTime;
        var text = time.ToString("yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
        return text + "Z";
    }

    /// <summary>Columns padded to their widest cell plus two spaces; the last column is not padded.</summary>
    public static void WriteTable(TextWriter w, List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (var i = 0; i < row.Length; i++)
            {
                line.Append(row[i]);
                if (i < row.Length - 1)
                {
                    line.Append(' ', widths[i] - row[i].Length + 2);
                }
            }
            w.WriteLine(line.ToString());
        }
    }
}
