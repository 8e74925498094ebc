using LiteFs.Ltx;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>The LTX file shape the encode and decode benchmarks share.</summary>
public static class LtxFiles
{
    /// <summary>
    /// The header of a transaction file (TXID 2 on top of TXID 1, so not a snapshot: no per-page
    /// database checksum) whose pages are 1..<paramref name="pageCount"/> of a database of that size.
    /// </summary>
    public static LtxHeader Header(int pageCount, bool lz4) => new()
    {
        Flags = lz4 ? LtxLayout.FlagCompressLz4 : 0,
        PageSize = SqliteImage.PageSize,
        Commit = (uint)pageCount,
        MinTxId = new TxId(2),
        MaxTxId = new TxId(2),
        Timestamp = 1_700_000_000_000,
        PreApplyChecksum = new Checksum(Checksum.FlagBit | 0x0123_4567_89ab_cdef),
    };

    /// <summary>Writes pages 1..pageCount of <paramref name="image"/> as one LTX file to <paramref name="output"/>.</summary>
    public static void Encode(Stream output, byte[] image, in LtxHeader header, Checksum postApply)
    {
        using var encoder = new LtxEncoder(output);
        encoder.WriteHeader(header);
        for (uint pgno = 1; pgno <= header.Commit; pgno++)
        {
            encoder.WritePage(pgno, SqliteImage.Page(image, pgno));
        }
        encoder.Finish(postApply);
    }
}
