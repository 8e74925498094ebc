using System.Buffers.Binary;
using System.Text;

namespace LiteFs.Ltx.Tests;

/// <summary>Builders for LTX files and pages used across the tests.</summary>
internal static class TestData
{
    /// <summary>Page 1 of the format's worked example B: "LTX example pg1." 32 times.</summary>
    public static byte[] ExamplePage1() => Repeat("LTX example pg1.", 512);

    /// <summary>Page 2 of example B's first file: b[i] = ((i*37) mod 256) XOR (i >> 3).</summary>
    public static byte[] ExamplePage2() => Enumerable.Range(0, 512).Select(i => (byte)(((i * 37) % 256) ^ (i >> 3))).ToArray();

    /// <summary>Page 2 of example B's second file: "second txn: pg2." 32 times.</summary>
    public static byte[] ExamplePage2Second() => Repeat("second txn: pg2.", 512);

    public static byte[] Repeat(string text, int length)
    {
        var unit = Encoding.ASCII.GetBytes(text);
        var page = new byte[length];
        for (var i = 0; i < length; i++)
        {
            page[i] = unit[i % unit.Length];
        }
        return page;
    }

    /// <summary>A page of mixed content: half random bytes, half repeated text.</summary>
    public static byte[] MixedPage(Random random, int pageSize)
    {
        var page = Repeat("row data, row data; ", pageSize);
        random.NextBytes(page.AsSpan(0, pageSize / 2));
        return page;
    }

    /// <summary>Encodes a file with the given pages; returns its bytes.</summary>
    public static byte[] Encode(LtxHeader header, IEnumerable<(uint Pgno, byte[] Data)> pages, Checksum postApply)
    {
        using var ms = new MemoryStream();
        using (var encoder = new LtxEncoder(ms))
        {
            encoder.WriteHeader(header);
            foreach (var (pgno, data) in pages)
            {
                encoder.WritePage(pgno, data);
            }
            encoder.Finish(postApply);
        }
        return ms.ToArray();
    }

    /// <summary>
    /// Builds an uncompressed file byte by byte without the encoder's rules, with a correct file
    /// checksum: for testing what the decoder does with files no honest writer makes.
    /// </summary>
    public static byte[] Raw(LtxHeader header, IEnumerable<(uint Pgno, byte[] Data)> pages, Checksum postApply)
    {
        using var ms = new MemoryStream();
        var buffer = new byte[LtxLayout.HeaderSize];
        header.Write(buffer);
        ms.Write(buffer);
        Span<byte> pgno = stackalloc byte[4];
        foreach (var (p, data) in pages)
        {
            BinaryPrimitives.WriteUInt32BigEndian(pgno, p);
            ms.Write(pgno);
            ms.Write(data);
        }
        pgno.Clear();
        ms.Write(pgno);
        Span<byte> post = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(post, postApply.Value);
        ms.Write(post);
        var crc = Crc64Iso.Compute(ms.ToArray());
        BinaryPrimitives.WriteUInt64BigEndian(post, Checksum.FlagBit | crc);
        ms.Write(post);
        return ms.ToArray();
    }

    /// <summary>The rolling checksum of a set of pages.</summary>
    public static Checksum RollingChecksum(IEnumerable<(uint Pgno, byte[] Data)> pages) =>
        pages.Aggregate(Checksum.Flag, (c, p) => c.Xor(Checksum.OfPage(p.Pgno, p.Data)));

    public static LtxHeader SnapshotHeader(int pageSize, uint commit, bool compress = false, ulong txid = 1) => new()
    {
        Flags = compress ? LtxLayout.FlagCompressLz4 : 0,
        PageSize = pageSize,
        Commit = commit,
        MinTxId = new TxId(1),
        MaxTxId = new TxId(txid),
        Timestamp = 1000,
    };

    /// <summary>Decodes a whole file from bytes.</summary>
    public static (LtxHeader Header, LtxTrailer Trailer, List<(uint Pgno, byte[] Data)> Pages) Decode(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        var header = decoder.ReadHeader();
        var pages = new List<(uint, byte[])>();
        var page = new byte[header.PageSize];
        while (decoder.ReadPage(out var ph, page))
        {
            pages.Add((ph.Pgno, page.ToArray()));
        }
        return (header, decoder.Trailer, pages);
    }
}
