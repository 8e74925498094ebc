using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>LTX files written that are not known to be durable.</summary>
    private long UnsyncedLtx => _ltxWritten - _ltxSyncedThrough;

    /// <summary>Records that a sync which began once <paramref name="written"/> files were written has finished.</summary>
    private void LtxSyncedThrough(long written) => _ltxSyncedThrough = Math.Max(_ltxSyncedThrough, written);

    /// <summary>Header of the next local transaction's LTX file.</summary>
    private LtxHeader NewHeader(TxId txid, uint commit) => NewHeader(txid, txid, commit, 0, 0, 0, 0);

    /// <summary>Header of the LTX file of the next local transactions, <paramref name="first"/> to <paramref name="last"/>.</summary>
    private LtxHeader NewHeader(TxId first, TxId last, uint commit, long walOffset, long walSize, uint salt1, uint salt2) => new()
    {
        Flags = _host.Compress ? LtxLayout.FlagCompressLz4 : 0,
        PageSize = PageSize,
        Commit = commit,
        MinTxId = first,
        MaxTxId = last,
        Timestamp = _host.Time.GetUtcNow().ToUnixTimeMilliseconds(),
        PreApplyChecksum = first.Value == 1 ? default : _pos.PostApplyChecksum,
        WalOffset = walOffset,
        WalSize = walSize,
        WalSalt1 = salt1,
        WalSalt2 = salt2,
        NodeId = _host.NodeId,
    };

    /// <summary>Starts encoding the next LTX file into the in-memory buffer.</summary>
    private LtxEncoder BeginLtx(in LtxHeader header)
    {
        AssertSync();
        _ltxBuffer.SetLength(0);
        var encoder = new LtxEncoder(_ltxBuffer);
        encoder.WriteHeader(header);
        return encoder;
    }

    /// <summary>
    /// Finishes the file, writes it in one call to <c>NAME.tmp</c> and renames it into place:
    /// the rename is the commit point. When SQLite asked for durability during this transaction
    /// (it synced a file), the file and the directory are synced before returning; otherwise
    /// they are synced at SQLite's next sync request, which is all SQLite itself promises at
    /// that setting (and a killed process loses nothing that reached the page cache).
    /// </summary>
    private void FinishLtx(LtxEncoder encoder, Checksum postApply)
    {
        AssertSync();
        var header = encoder.Header;
        encoder.Finish(postApply);
        encoder.Dispose();

        var final = System.IO.Path.Combine(LtxDir, LtxFileName.Format(header.MinTxId, header.MaxTxId));
        if (File.Exists(final))
        {
            // A TXID is used once: never replace a file already in the history.
            throw new LiteFsException($"{Name}: {System.IO.Path.GetFileName(final)} already exists; the position {_pos} is behind the LTX files");
        }
        _filePool ??= new LtxFilePool(LtxDir);
        var temp = _filePool.Take() ?? final + ".tmp";
        var sync = _syncRequested;
        // Create truncates: a file of that name left by a killed process may be longer than this one.
        using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(file, _ltxBuffer.GetBuffer().AsSpan(0, (int)_ltxBuffer.Length), 0);
            if (sync)
            {
                RandomAccess.FlushToDisk(file);
            }
        }
        File.Move(temp, final, overwrite: true);
        NoteLtxRange(header.MinTxId, header.MaxTxId);
        // Renamed: the transaction is part of the history, whatever happens next.
        _pos = new Pos(header.MaxTxId, postApply);
        if (sync)
        {
            // The file itself is synced; the others written before it with one syncfs, if any.
            SyncPendingLtx();
            Posix.FsyncDirectory(LtxDir);
            _syncRequested = false;
            LtxSyncedThrough(++_ltxWritten);
        }
        else
        {
            _ltxWritten++;
        }
        if (_ltxBuffer.Capacity > 4 << 20)
        {
            // Do not keep a large transaction's buffer alive (the length goes first: a capacity
            // below it throws).
            _ltxBuffer.SetLength(0);
            _ltxBuffer.Capacity = 0;
        }
    }

    /// <summary>
    /// Makes the LTX files written without a sync durable, with their directory entries: one
    /// syncfs for all of them, however many transactions went by since SQLite last synced.
    /// </summary>
    private void SyncPendingLtx()
    {
        AssertSync();
        if (UnsyncedLtx == 0)
        {
            return;
        }
        var written = _ltxWritten;
        Posix.SyncFileSystem(LtxDir);
        LtxSyncedThrough(written);
    }

    /// <summary>A local transaction is durable as an LTX file: move the position and tell the node.</summary>
    private void Committed(in LtxHeader header, Checksum postApply)
    {
        AssertSync();
        _pos = new Pos(header.MaxTxId, postApply);
        Timestamp = header.Timestamp;
        _host.Invalidator.InvalidateEntry(Name + "-pos");
        _host.OnTransaction(this, header, _pos);
    }
}
