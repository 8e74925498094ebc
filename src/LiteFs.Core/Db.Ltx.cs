using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>Header of the next local transaction's LTX file.</summary>
    private LtxHeader NewHeader(TxId txid, uint commit) => NewHeader(txid, txid, commit, 0, 0, 0, 0);

    /// <summary>Header of the LTX file of the next local transactions, <paramref name="first"/> to <paramref name="last"/>.</summary>
    internal LtxHeader NewHeader(TxId first, TxId last, uint commit, long walOffset, long walSize, uint salt1, uint salt2) => new()
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

    /// <summary>
    /// Stores a local transaction's file (<see cref="LtxWriter.Store"/>): once renamed it is part
    /// of the history and the position moves to it, then it is made as durable as SQLite asked.
    /// </summary>
    internal void FinishLtx(LtxEncoder encoder, Checksum postApply)
    {
        AssertSync();
        // Under a HALT lock held from the primary, the primary has the transaction before this
        // node records it (and before SQLite's commit returns); if it refuses, nothing is recorded.
        Action<Stream>? forward = Halt.Remote is { } held && !_host.IsPrimary
            ? ltx => _host.ForwardTransaction(this, held.Id, ltx)
            : null;
        var header = _ltx.Store(encoder, postApply, _pos, forward);
        NoteLtxRange(header.MinTxId, header.MaxTxId);
        _pos = new Pos(header.MaxTxId, postApply);
        _ltx.CompleteDurability();
    }

    /// <summary>A local transaction is durable as an LTX file: move the position and tell the node.</summary>
    internal void Committed(in LtxHeader header, Checksum postApply)
    {
        AssertSync();
        _pos = new Pos(header.MaxTxId, postApply);
        Timestamp = header.Timestamp;
        _host.Invalidator.InvalidateEntry(Name + "-pos");
        _host.OnTransaction(this, header, _pos);
    }
}
