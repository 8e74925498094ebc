using System.Buffers;
using System.Buffers.Binary;
using LiteFs.Core.Locking;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
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
            using (EnterSync())
            {
                // A new WAL generation overwrites the frames: every transaction in them is recorded
                // first, and durably, since the WAL stops being their durable copy.
                _recorder.Settle(durable: true);
                _recorder.StartGeneration(header);
                RandomAccess.Write(RequireHandle(DbFileKind.Wal, create: true), data, offset);
            }
            return;
        }

        // Frames are written without the database's monitor: the committer may be recording the
        // previous transactions meanwhile. SQLite's WAL write lock orders the writers.
        RequireWriteLock();
        if (PageSize == 0)
        {
            throw new LiteFsException($"{Name}: WAL frame written before the page size is known");
        }
        if (_recorder.Cursor.Offset is var start && offset < start)
        {
            throw new LiteFsException($"{Name}: WAL write at offset {offset} would overwrite committed frames (transaction starts at {start})");
        }
        var forwarding = Halt.Remote is not null && !_host.IsPrimary;
        if (forwarding)
        {
            using (EnterSync())
            {
                if (_forwardRefused)
                {
                    throw new ForwardRefusedException($"{Name}: the primary refused this transaction; SQLite must roll it back");
                }
            }
        }
        if (_diskFull.IsFull)
        {
            // Committed transactions wait in the WAL for room to record them: no new one starts.
            throw DiskFullRefusal();
        }
        var wal = RequireHandle(DbFileKind.Wal, create: true);
        RandomAccess.Write(wal, data, offset);
        _recorder.NoteFramesWritten();
        if (forwarding && CompletesCommitFrame(wal, offset + data.Length) is { } commitFrame)
        {
            // Under a HALT lock borrowed from the primary, the write that completes a commit frame
            // is the commit point: the transaction goes to the primary now, and if the primary does
            // not take it, this write fails, and so does every WAL write until SQLite lets the WAL
            // write lock go: SQLite rolls the transaction back (the frame is voided, so nothing
            // ever reads it as committed).
            using (EnterSync())
            {
                try
                {
                    _recorder.RecordForwarded(commitFrame);
                }
                catch (ForwardRefusedException)
                {
                    _forwardRefused = true;
                    throw;
                }
            }
        }
    }

    /// <summary>The offset of the frame a write ending at <paramref name="end"/> completes, when that frame is a commit frame.</summary>
    private long? CompletesCommitFrame(Microsoft.Win32.SafeHandles.SafeFileHandle wal, long end)
    {
        var frameSize = WalHeader.FrameHeaderSize + PageSize;
        var framesEnd = end - WalHeader.Size;
        if (framesEnd <= 0 || framesEnd % frameSize != 0)
        {
            return null;
        }
        Span<byte> header = stackalloc byte[WalHeader.FrameHeaderSize];
        var frame = end - frameSize;
        return RandomAccess.Read(wal, header, frame) == header.Length && WalFrameHeader.Read(header).Commit != 0 ? frame : null;
    }

    private void RequireWriteLock()
    {
        if (!Locks.Write.IsExclusive)
        {
            throw new LiteFsException($"{Name}: WAL written without the WAL write lock (locking_mode=EXCLUSIVE is not supported in WAL mode)");
        }
    }

    /// <summary>
    /// The WAL write lock is being released by <paramref name="owner"/>: if it held it
    /// exclusively, the transaction it committed (if any) is handed to the recorder's committer.
    /// </summary>
    internal void BeforeWriteLockRelease(ulong owner)
    {
        if (Locks.Write.ModeOf(owner) == LockMode.Exclusive)
        {
            using (EnterSync())
            {
                _forwardRefused = false;
            }
            if (Halt.Remote is not null && !_host.IsPrimary)
            {
                // Under a HALT lock held from the primary: the transaction is recorded and
                // forwarded now, before SQLite's commit returns (a failure is fatal: SQLite has
                // committed it here, and the primary does not have it).
                _ = RecordCommitted();
                return;
            }
            _recorder.OnWriteLockReleased();
        }
    }

    private void TruncateWal(long size)
    {
        if (size != 0)
        {
            throw new LiteFsException($"{Name}: the WAL may only be truncated to 0 bytes (asked for {size})");
        }
        using (EnterSync())
        {
            _recorder.Settle(durable: true);
            RandomAccess.SetLength(RequireHandle(DbFileKind.Wal), 0);
            _recorder.Rewind();
        }
    }
}
