using System.Buffers.Binary;
using LiteFs.Ltx;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

/// <summary>
/// The file <c>dbs/NAME/applying</c>: which LTX file's pages are being written into the database
/// file, so that start-up tells an apply the node was killed in (to be completed) from a
/// database that is past its newest LTX file (to be kept, never rolled back). It holds the
/// file's first and last TXID while its pages are written and zeros otherwise: two 16-byte
/// writes per applied file on a handle kept open, not synced (what it guards against is the
/// process dying; a write the kernel accepted outlives that). A data directory written before
/// the file existed has none, and start-up then reads the pages alone. Owned by the database's
/// monitor.
/// </summary>
internal sealed class ApplyMarker : IDisposable
{
    /// <summary>The file's name in the database's folder.</summary>
    public const string FileName = "applying";

    private const int Size = 16;

    private readonly string _path;
    private SafeFileHandle? _handle;

    public ApplyMarker(string dbDirectory)
    {
        _path = Path.Combine(dbDirectory, FileName);
    }

    /// <summary>What start-up finds: no file (written by an older node), no apply, or the TXID range of the file being applied.</summary>
    public (bool Exists, TxId Min, TxId Max) Read()
    {
        if (!File.Exists(_path))
        {
            return (false, TxId.Zero, TxId.Zero);
        }
        Span<byte> buffer = stackalloc byte[Size];
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        if (RandomAccess.Read(handle, buffer, 0) < Size)
        {
            return (true, TxId.Zero, TxId.Zero);
        }
        return (true, new TxId(BinaryPrimitives.ReadUInt64BigEndian(buffer)), new TxId(BinaryPrimitives.ReadUInt64BigEndian(buffer[8..])));
    }

    /// <summary>The pages of the file <paramref name="header"/> heads are about to be written.</summary>
    public void Begin(in LtxHeader header) => Write(header.MinTxId, header.MaxTxId);

    /// <summary>The apply is complete (or nothing is being applied): start-up finds no apply in progress.</summary>
    public void End() => Write(TxId.Zero, TxId.Zero);

    private void Write(TxId min, TxId max)
    {
        Span<byte> buffer = stackalloc byte[Size];
        BinaryPrimitives.WriteUInt64BigEndian(buffer, min.Value);
        BinaryPrimitives.WriteUInt64BigEndian(buffer[8..], max.Value);
        _handle ??= File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        RandomAccess.Write(_handle, buffer, 0);
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
