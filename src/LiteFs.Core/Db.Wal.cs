using System.Buffers;
using System.Buffers.Binary;
using LiteFs.Core.Locking;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    // What the node learnt from the last WAL header SQLite wrote, and where the next transaction
    // starts. The running checksum is the cumulative WAL checksum up to that point.
    private bool _walBigEndian;
    private uint _walSalt1;
    private uint _walSalt2;
    private uint _walS0;
    private uint _walS1;
    private long _walTxStart;

    /// <summary>Committed WAL frames: the newest frame's offset for each page (read by snapshots).</summary>
    private readonly Dictionary<uint, long> _walFrames = [];

    private int FrameSize => WalHeader.FrameHeaderSize + PageSize;

    private void WriteWal(ReadOnlySpan<byte> data, long offset)
    {
        if (!_host.IsWritable(this))
        {
            throw Refused(new ReadOnlyReplicaException(Name));
        }
        if (data.IsEmpty)
        {
            return;
        }
        lock (_sync)
        {
            if (offset == 0)
            {
                if (data.Length != WalHeader.Size)
                {
                    throw new LiteFsException($"{Name}: WAL header writes must be {WalHeader.Size} bytes (got {data.Length})");
                }
                RequireWriteLock();
                var header = WalHeader.Read(data);
                if (!header.HasValidMagic)
                {
                    throw new LiteFsException($"{Name}: invalid WAL header magic 0x{header.Magic:x8}");
                }
                _walBigEndian = header.BigEndianChecksums;
                _walSalt1 = header.Salt1;
                _walSalt2 = header.Salt2;
                _walS0 = header.Checksum1;
                _walS1 = header.Checksum2;
                _walTxStart = WalHeader.Size;
                ForgetWalFrames();
            }
            else
            {
                RequireWriteLock();
                if (PageSize == 0)
                {
                    throw new LiteFsException($"{Name}: WAL frame written before the page size is known");
                }
                if (offset < _walTxStart)
                {
                    throw new LiteFsException($"{Name}: WAL write at offset {offset} would overwrite committed frames (transaction starts at {_walTxStart})");
                }
            }
            RandomAccess.Write(RequireHandle(DbFileKind.Wal, create: true), data, offset);
        }
    }

    private void RequireWriteLock()
    {
        if (!Locks.Write.IsExclusive)
        {
            throw new LiteFsException($"{Name}: WAL written without the WAL write lock (locking_mode=EXCLUSIVE is not supported in WAL mode)");
        }
    }

    private void TruncateWal(long size)
    {
        if (size != 0)
        {
            throw new LiteFsException($"{Name}: the WAL may only be truncated to 0 bytes (asked for {size})");
        }
        lock (_sync)
        {
            RandomAccess.SetLength(RequireHandle(DbFileKind.Wal), 0);
            ForgetWalFrames();
        }
    }

    /// <summary>Forgets the committed frames and their checksums (the WAL was reset or checkpointed away).</summary>
    private void ForgetWalFrames()
    {
        _checksums.ClearWal();
        _walFrames.Clear();
    }

    /// <summary>
    /// The WAL write lock is being released by <paramref name="owner"/>: if it holds it
    /// exclusively, the transaction SQLite appended (if any) becomes the next LTX file before the
    /// lock goes. A failure here is fatal: SQLite has already reported the transaction committed.
    /// </summary>
    internal void BeforeWriteLockRelease(ulong owner)
    {
        if (Locks.Write.ModeOf(owner) != LockMode.Exclusive)
        {
            return;
        }
        try
        {
            lock (_sync)
            {
                CommitWal();
            }
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            var fatal = new FatalDatabaseException($"{Name}: cannot commit WAL transaction: {ex.Message}", ex);
            _host.Fatal(fatal);
            throw fatal;
        }
    }

    private void CommitWal()
    {
        if (PageSize == 0 || _walTxStart == 0)
        {
            return;
        }
        var wal = Handle(DbFileKind.Wal, create: false);
        if (wal is null)
        {
            return;
        }
        var length = RandomAccess.GetLength(wal);
        var frameSize = FrameSize;
        var frames = new Dictionary<uint, long>();
        var buffer = ArrayPool<byte>.Shared.Rent(frameSize);
        try
        {
            var frame = buffer.AsSpan(0, frameSize);
            var (s0, s1) = (_walS0, _walS1);
            var offset = _walTxStart;
            uint commit = 0;
            while (commit == 0)
            {
                if (offset + frameSize > length || RandomAccess.Read(wal, frame, offset) < frameSize)
                {
                    return; // no complete transaction: SQLite rolled back or is not done
                }
                var fh = WalFrameHeader.Read(frame);
                if (fh.Salt1 != _walSalt1 || fh.Salt2 != _walSalt2)
                {
                    return;
                }
                (s0, s1) = WalChecksum.Append(_walBigEndian, s0, s1, frame[..8]);
                (s0, s1) = WalChecksum.Append(_walBigEndian, s0, s1, frame[WalHeader.FrameHeaderSize..]);
                if (s0 != fh.Checksum1 || s1 != fh.Checksum2)
                {
                    return;
                }
                frames[fh.Pgno] = offset;
                commit = fh.Commit;
                offset += frameSize;
            }

            var txid = Pos.TxId.Next;
            var lockPgno = LockPgno;
            // Frames above the new size are pages SQLite spilled before shrinking the database:
            // they are not part of the result.
            var pgnos = frames.Keys.Where(p => p <= commit && p != lockPgno).Order().ToArray();
            if (txid.Value == 1 && pgnos.Length != commit - (commit >= lockPgno ? 1 : 0))
            {
                throw new LiteFsException($"{Name}: the first transaction does not carry every page of the database");
            }
            if (!_host.IsWritable(this))
            {
                throw new LiteFsException($"{Name}: node lost write access during transaction, rolling back");
            }
            var header = NewHeader(txid, commit, _walTxStart, offset - _walTxStart, _walSalt1, _walSalt2);
            var encoder = BeginLtx(header);
            try
            {
                // One read per page: it is checksummed and encoded together.
                var page = frame[WalHeader.FrameHeaderSize..];
                foreach (var pgno in pgnos)
                {
                    RandomAccess.Read(wal, page, frames[pgno] + WalHeader.FrameHeaderSize);
                    _checksums.SetWal(pgno, Checksum.OfPage(pgno, page));
                    encoder.WritePage(pgno, page);
                }
                _checksums.Truncate(commit);
                FinishLtx(encoder, _checksums.Compute(commit, PageSize));
            }
            finally
            {
                encoder.Dispose();
            }
            var post = encoder.Trailer.PostApplyChecksum;

            foreach (var pgno in pgnos)
            {
                _walFrames[pgno] = frames[pgno];
            }
            if (commit < PageCount)
            {
                _walFrames.Keys.Where(p => p > commit).ToList().ForEach(p => _walFrames.Remove(p));
            }
            _walTxStart = offset;
            (_walS0, _walS1) = (s0, s1);
            PageCount = commit;
            Committed(header, post);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The WAL state written into the SHM header: running checksum and salts.</summary>
    private (uint S0, uint S1, uint Salt1, uint Salt2, bool BigEndian) WalState => (_walS0, _walS1, _walSalt1, _walSalt2, _walBigEndian);

}
