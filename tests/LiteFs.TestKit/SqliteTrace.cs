using System.IO.Compression;
using System.Text;
using LiteFs.Core;

namespace LiteFs.TestKit;

/// <summary>What a recorded file operation did (the calls LiteFs.FileSystem makes on a database).</summary>
public enum TraceOp : byte
{
    /// <summary>create(2) of the file through the root (a database, or one of its journal, WAL, SHM).</summary>
    Create = 1,

    /// <summary>open(2) of an existing file; O_TRUNC truncates it.</summary>
    Open,

    /// <summary>A read, with the count and a CRC-32 of the bytes it returned.</summary>
    Read,

    /// <summary>A write, with its bytes.</summary>
    Write,

    /// <summary>A truncation (setattr with a size).</summary>
    Truncate,

    /// <summary>fsync(2).</summary>
    Sync,

    /// <summary>A descriptor was closed: the owner's locks on the file go.</summary>
    Release,

    /// <summary>A non-blocking POSIX lock request (F_SETLK), with its outcome.</summary>
    Lock,

    /// <summary>F_GETLK, with the type of the lock that would block, if any.</summary>
    QueryLock,

    /// <summary>unlink(2).</summary>
    Unlink,

    /// <summary>A point after a SQL step returned, with what the node must hold then.</summary>
    CommitPoint,
}

/// <summary>An LTX file the node wrote between two commit points, as recorded.</summary>
public sealed record TraceLtxFile(ulong MinTxId, ulong MaxTxId, uint Commit, uint[] Pages, ulong PostApplyChecksum);

/// <summary>
/// One recorded operation. Fields a kind of operation does not use are zero: <see cref="Offset"/>
/// is also a truncation size, <see cref="Length"/> a read's size, <see cref="Flags"/> open flags
/// or a lock type, <see cref="Status"/> the errno the operation answered (0 when it succeeded),
/// a lock's outcome or a lock query's answer.
/// </summary>
public sealed class TraceRecord
{
    public TraceOp Op { get; init; }

    public DbFileKind File { get; init; }

    public long Offset { get; init; }

    public long End { get; init; }

    public int Length { get; init; }

    public int Flags { get; init; }

    public ulong Owner { get; init; }

    public int Status { get; init; }

    /// <summary>A write's bytes.</summary>
    public byte[] Data { get; init; } = [];

    /// <summary>A read's CRC-32 of the bytes returned.</summary>
    public uint Crc { get; init; }

    /// <summary>Commit point: the SQL step that just returned.</summary>
    public string Sql { get; init; } = "";

    /// <summary>Commit point: the position (TXID, post-apply checksum).</summary>
    public ulong TxId { get; init; }

    /// <summary>Commit point: the position's checksum.</summary>
    public ulong Checksum { get; init; }

    /// <summary>Commit point: pages in the database SQLite sees (the database file with its committed WAL frames).</summary>
    public uint PageCount { get; init; }

    /// <summary>Commit point: SHA-256 of that database.</summary>
    public byte[] Sha256 { get; init; } = [];

    /// <summary>Commit point: LTX files written since the previous commit point.</summary>
    public IReadOnlyList<TraceLtxFile> LtxFiles { get; init; } = [];

    public override string ToString() => Op switch
    {
        TraceOp.Write => $"{Op} {File} {Data.Length} bytes at {Offset}",
        TraceOp.Read => $"{Op} {File} {Length} bytes at {Offset}",
        TraceOp.Truncate => $"{Op} {File} to {Offset}",
        TraceOp.Lock or TraceOp.QueryLock => $"{Op} {File} owner {Owner:x} type {Flags} [{Offset}, {End}] -> {Status}",
        TraceOp.Release => $"{Op} {File} owner {Owner:x}",
        TraceOp.CommitPoint => $"{Op} after \"{Sql}\" at TXID {TxId}",
        _ => $"{Op} {File}" + (Status != 0 ? $" -> errno {Status}" : ""),
    };
}

/// <summary>
/// A recorded sequence of SQLite's file operations on one database, as the LiteFS file system
/// received them, with commit points (tests/testdata/sqlite-traces/README.md). Stored gzipped:
/// a magic, the database name, then one record after another in <see cref="BinaryWriter"/>'s
/// encoding.
/// </summary>
public sealed class SqliteTrace
{
    private static ReadOnlySpan<byte> Magic => "LFSTRC01"u8;

    public SqliteTrace(string database, IReadOnlyList<TraceRecord> records)
    {
        Database = database;
        Records = records;
    }

    /// <summary>The database's name in the mount.</summary>
    public string Database { get; }

    public IReadOnlyList<TraceRecord> Records { get; }

    /// <summary>The folder of the recorded traces.</summary>
    public static string Folder => Path.Combine(RepoPaths.TestData, "sqlite-traces");

    /// <summary>Loads <c>NAME.trace.gz</c> from <see cref="Folder"/>.</summary>
    public static SqliteTrace Load(string name)
    {
        using var file = File.OpenRead(Path.Combine(Folder, name + ".trace.gz"));
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new BinaryReader(gzip, Encoding.UTF8);
        if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{name}: not a SQLite trace (bad magic)");
        }
        var database = reader.ReadString();
        var records = new List<TraceRecord>();
        while (reader.ReadByte() is var op && op != 0)
        {
            records.Add(ReadRecord(reader, (TraceOp)op));
        }
        return new SqliteTrace(database, records);
    }

    /// <summary>Writes the trace to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.SmallestSize);
        using var writer = new BinaryWriter(gzip, Encoding.UTF8);
        writer.Write(Magic);
        writer.Write(Database);
        foreach (var record in Records)
        {
            writer.Write((byte)record.Op);
            WriteRecord(writer, record);
        }
        writer.Write((byte)0);
    }

    private static TraceRecord ReadRecord(BinaryReader r, TraceOp op)
    {
        var file = (DbFileKind)r.ReadByte();
        switch (op)
        {
            case TraceOp.Read:
                return new TraceRecord { Op = op, File = file, Offset = r.ReadInt64(), Length = r.Read7BitEncodedInt(), End = r.Read7BitEncodedInt(), Status = r.Read7BitEncodedInt(), Crc = r.ReadUInt32() };
            case TraceOp.Write:
                var offset = r.ReadInt64();
                return new TraceRecord { Op = op, File = file, Offset = offset, Data = r.ReadBytes(r.Read7BitEncodedInt()) };
            case TraceOp.Truncate:
                return new TraceRecord { Op = op, File = file, Offset = r.ReadInt64(), Status = r.Read7BitEncodedInt() };
            case TraceOp.Release:
                return new TraceRecord { Op = op, File = file, Owner = r.ReadUInt64() };
            case TraceOp.Lock:
            case TraceOp.QueryLock:
                return new TraceRecord { Op = op, File = file, Owner = r.ReadUInt64(), Flags = r.ReadByte(), Offset = r.ReadInt64(), End = r.ReadInt64(), Status = r.Read7BitEncodedInt() };
            case TraceOp.CommitPoint:
                var sql = r.ReadString();
                var (txid, checksum, pageCount, sha) = (r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt32(), r.ReadBytes(32));
                var files = new TraceLtxFile[r.Read7BitEncodedInt()];
                for (var i = 0; i < files.Length; i++)
                {
                    var (min, max, commit) = (r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt32());
                    var pages = new uint[r.Read7BitEncodedInt()];
                    for (var p = 0; p < pages.Length; p++)
                    {
                        pages[p] = (uint)r.Read7BitEncodedInt();
                    }
                    files[i] = new TraceLtxFile(min, max, commit, pages, r.ReadUInt64());
                }
                return new TraceRecord { Op = op, Sql = sql, TxId = txid, Checksum = checksum, PageCount = pageCount, Sha256 = sha, LtxFiles = files };
            default:
                return new TraceRecord { Op = op, File = file, Flags = r.Read7BitEncodedInt(), Status = r.Read7BitEncodedInt() };
        }
    }

    private static void WriteRecord(BinaryWriter w, TraceRecord record)
    {
        w.Write((byte)record.File);
        switch (record.Op)
        {
            case TraceOp.Read:
                w.Write(record.Offset);
                w.Write7BitEncodedInt(record.Length);
                w.Write7BitEncodedInt((int)record.End);
                w.Write7BitEncodedInt(record.Status);
                w.Write(record.Crc);
                break;
            case TraceOp.Write:
                w.Write(record.Offset);
                w.Write7BitEncodedInt(record.Data.Length);
                w.Write(record.Data);
                break;
            case TraceOp.Truncate:
                w.Write(record.Offset);
                w.Write7BitEncodedInt(record.Status);
                break;
            case TraceOp.Release:
                w.Write(record.Owner);
                break;
            case TraceOp.Lock:
            case TraceOp.QueryLock:
                w.Write(record.Owner);
                w.Write((byte)record.Flags);
                w.Write(record.Offset);
                w.Write(record.End);
                w.Write7BitEncodedInt(record.Status);
                break;
            case TraceOp.CommitPoint:
                w.Write(record.Sql);
                w.Write(record.TxId);
                w.Write(record.Checksum);
                w.Write(record.PageCount);
                w.Write(record.Sha256);
                w.Write7BitEncodedInt(record.LtxFiles.Count);
                foreach (var ltx in record.LtxFiles)
                {
                    w.Write(ltx.MinTxId);
                    w.Write(ltx.MaxTxId);
                    w.Write(ltx.Commit);
                    w.Write7BitEncodedInt(ltx.Pages.Length);
                    foreach (var pgno in ltx.Pages)
                    {
                        w.Write7BitEncodedInt((int)pgno);
                    }
                    w.Write(ltx.PostApplyChecksum);
                }
                break;
            default:
                w.Write7BitEncodedInt(record.Flags);
                w.Write7BitEncodedInt(record.Status);
                break;
        }
    }
}
