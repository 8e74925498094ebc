using System.Buffers.Binary;
using LiteFs.Ltx;

namespace LiteFs.TestKit;

/// <summary>
/// SQLite's files read independently of the node: the database a connection sees (the database
/// file with the WAL's committed frames over it), and LTX files listed and applied from scratch.
/// </summary>
public static class SqliteFiles
{
    private const int WalHeaderSize = 32;
    private const int FrameHeaderSize = 24;

    /// <summary>
    /// The database SQLite sees: <paramref name="databasePath"/> with the pages of every committed
    /// transaction in <paramref name="walPath"/> (if it exists) over it, cut to the size the last
    /// commit frame gives. Frames are taken while their salts and cumulative checksums verify, as
    /// SQLite's recovery does.
    /// </summary>
    public static byte[] LogicalDatabase(string databasePath, string walPath)
    {
        var db = File.Exists(databasePath) ? File.ReadAllBytes(databasePath) : [];
        if (!File.Exists(walPath))
        {
            return db;
        }
        var wal = File.ReadAllBytes(walPath);
        if (wal.Length < WalHeaderSize)
        {
            return db;
        }
        var magic = BinaryPrimitives.ReadUInt32BigEndian(wal);
        if (magic is not (0x377f0682 or 0x377f0683))
        {
            return db;
        }
        var bigEndian = magic == 0x377f0683;
        var pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(8));
        var (salt1, salt2) = (BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(16)), BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(20)));
        var (s0, s1) = WalChecksum(bigEndian, 0, 0, wal.AsSpan(0, 24));
        if (s0 != BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(24)) || s1 != BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(28)))
        {
            return db;
        }
        var image = new List<byte>(db);
        var pending = new List<(uint Pgno, int Offset)>();
        for (var offset = WalHeaderSize; offset + FrameHeaderSize + pageSize <= wal.Length; offset += FrameHeaderSize + pageSize)
        {
            var frame = wal.AsSpan(offset, FrameHeaderSize + pageSize);
            if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != salt1 || BinaryPrimitives.ReadUInt32BigEndian(frame[12..]) != salt2)
            {
                break;
            }
            (s0, s1) = WalChecksum(bigEndian, s0, s1, frame[..8]);
            (s0, s1) = WalChecksum(bigEndian, s0, s1, frame[FrameHeaderSize..]);
            if (s0 != BinaryPrimitives.ReadUInt32BigEndian(frame[16..]) || s1 != BinaryPrimitives.ReadUInt32BigEndian(frame[20..]))
            {
                break;
            }
            pending.Add((BinaryPrimitives.ReadUInt32BigEndian(frame), offset + FrameHeaderSize));
            var commit = BinaryPrimitives.ReadUInt32BigEndian(frame[4..]);
            if (commit == 0)
            {
                continue;
            }
            foreach (var (pgno, at) in pending)
            {
                var start = (int)(pgno - 1) * pageSize;
                while (image.Count < start + pageSize)
                {
                    image.Add(0);
                }
                for (var i = 0; i < pageSize; i++)
                {
                    image[start + i] = wal[at + i];
                }
            }
            pending.Clear();
            var size = (int)commit * pageSize;
            if (image.Count > size)
            {
                image.RemoveRange(size, image.Count - size);
            }
            while (image.Count < size)
            {
                image.Add(0);
            }
        }
        return [.. image];
    }

    private static (uint S0, uint S1) WalChecksum(bool bigEndian, uint s0, uint s1, ReadOnlySpan<byte> data)
    {
        for (var i = 0; i + 8 <= data.Length; i += 8)
        {
            var x0 = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[i..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            var x1 = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[(i + 4)..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]);
            s0 += x0 + s1;
            s1 += x1 + s0;
        }
        return (s0, s1);
    }

    /// <summary>The LTX files in <paramref name="ltxDir"/>, in TXID order, each verified and summarised.</summary>
    public static List<TraceLtxFile> ListLtx(string ltxDir)
    {
        var files = new List<TraceLtxFile>();
        foreach (var path in Directory.GetFiles(ltxDir, "*.ltx").Order(StringComparer.Ordinal))
        {
            using var stream = File.OpenRead(path);
            using var decoder = new LtxDecoder(stream);
            var header = decoder.ReadHeader();
            var pages = new List<uint>();
            var buffer = new byte[header.PageSize];
            while (decoder.ReadPage(out var page, buffer))
            {
                pages.Add(page.Pgno);
            }
            files.Add(new TraceLtxFile(header.MinTxId.Value, header.MaxTxId.Value, header.Commit, [.. pages], decoder.Trailer.PostApplyChecksum.Value));
        }
        return files;
    }

    /// <summary>
    /// Applies every LTX file in <paramref name="ltxDir"/>, in TXID order, to a new empty database
    /// and returns its bytes and the applier's final position.
    /// </summary>
    public static (byte[] Database, Pos Pos) ApplyFromScratch(string ltxDir)
    {
        var path = Path.Combine(Path.GetTempPath(), $"litefs-apply-{Guid.NewGuid():N}.db");
        try
        {
            Pos pos;
            using (var db = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                var applier = new LtxApplier(db, path);
                foreach (var ltx in Directory.GetFiles(ltxDir, "*.ltx").Order(StringComparer.Ordinal))
                {
                    using var stream = File.OpenRead(ltx);
                    applier.Apply(stream, Path.GetFileName(ltx));
                }
                pos = applier.Position;
            }
            return (File.ReadAllBytes(path), pos);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The rolling LTX checksum of a database image.</summary>
    public static Checksum ChecksumOf(byte[] database)
    {
        using var stream = new MemoryStream(database, writable: false);
        return SqliteDatabase.ComputeChecksum(stream);
    }
}
