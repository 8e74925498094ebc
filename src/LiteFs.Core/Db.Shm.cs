using System.Buffers.Binary;
using LiteFs.Core.Sqlite;

namespace LiteFs.Core;

public sealed partial class Db
{
    private const int ShmSize = 32768;
    private const int ShmHeaderSize = 136;

    /// <summary>Set while the node rewrites the SHM header; SQLite's writes meanwhile are dropped.</summary>
    private bool _rewritingShm;

    /// <summary>The SHM region rewritten after each applied file, kept between files (callers hold <see cref="_sync"/>).</summary>
    private byte[]? _shmBuffer;

    /// <summary>
    /// Rewrites the SHM header so that SQLite connections see an empty WAL and a changed
    /// database (the change counter moves), and reread every page from the database file.
    /// Called after every applied LTX file and every checkpoint the node makes.
    /// </summary>
    private void RewriteShmHeader()
    {
        var shm = RequireHandle(DbFileKind.Shm, create: true);
        var data = _shmBuffer ??= new byte[ShmSize];
        // Bytes past the end of a short file read as zeros.
        data.AsSpan(RandomAccess.Read(shm, data, 0)).Clear();
        var (s0, s1, salt1, salt2, _) = WalState;

        var h = data.AsSpan(0, 48);
        var previousCounter = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
        var previousBigEnd = h[13];
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h, WalHeader.SupportedVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], previousCounter + 1);
        h[12] = 1; // isInit
        h[13] = previousBigEnd;
        BinaryPrimitives.WriteUInt16LittleEndian(h[14..], (ushort)(PageSize == 65536 ? 1 : PageSize));
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 0); // mxFrame: the WAL is empty
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], PageCount);
        BinaryPrimitives.WriteUInt32LittleEndian(h[24..], s0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[28..], s1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[32..], salt1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[36..], salt2);
        var (c0, c1) = WalChecksum.Append(bigEndian: !BitConverter.IsLittleEndian, 0, 0, h[..40]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], c0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[44..], c1);
        h.CopyTo(data.AsSpan(48));

        var checkpointInfo = data.AsSpan(96, ShmHeaderSize - 96);
        checkpointInfo.Clear();
        for (var i = 1; i <= 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(checkpointInfo[(4 + (i * 4))..], 0xFFFFFFFF);
        }

        Volatile.Write(ref _rewritingShm, true);
        try
        {
            RandomAccess.Write(shm, data, 0);
            RandomAccess.SetLength(shm, ShmSize);
        }
        finally
        {
            Volatile.Write(ref _rewritingShm, false);
        }
        _host.Invalidator.InvalidateData(Name, DbFileKind.Shm, 0, -1);
    }
}
