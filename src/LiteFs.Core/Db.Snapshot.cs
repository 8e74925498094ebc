using LiteFs.Core.Replication;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// Writes a snapshot of the database as one LTX file (MinTXID 1, MaxTXID the current TXID)
    /// to <paramref name="output"/>, holding the read locks while pages are read. In WAL mode a
    /// page's newest committed frame is read in place of the database file's page. The pages'
    /// checksum must equal the current position's; otherwise nothing valid is finished.
    /// </summary>
    /// <returns>The position the snapshot brings a replica to.</returns>
    public Pos WriteSnapshot(Stream output, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var locks = AcquireReadLock(cancellationToken);
        Pos pos;
        uint commit;
        int pageSize;
        Dictionary<uint, long> frames;
        using (EnterSync())
        {
            // Every committed transaction recorded: the database file and the WAL frames read
            // below then hold exactly the position's pages.
            _recorder.Settle(durable: false);
            pos = _pos;
            commit = PageCount;
            pageSize = PageSize;
            frames = _recorder.CopyFrames();
        }
        if (pageSize == 0)
        {
            throw new LiteFsException($"{Name}: cannot snapshot a database whose page size is unknown");
        }
        var pages = new SnapshotPages(
            Handle(DbFileKind.Database, create: false), frames.Count > 0 ? Handle(DbFileKind.Wal, create: false) : null, frames, pageSize);
        var options = new LtxSnapshotOptions
        {
            Compress = _host.Compress,
            NodeId = _host.NodeId,
            Timestamp = _host.Time.GetUtcNow().ToUnixTimeMilliseconds(),
            Name = Name,
        };
        // Zero means no limit (upstream fails every snapshot then, so such a replica never syncs).
        using var deadline = timeout > TimeSpan.Zero ? new CancellationTokenSource(timeout, _host.Time) : new CancellationTokenSource();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            LtxSnapshot.Write(pages, pageSize, commit, output, pos.TxId, options, commit == 0 ? Checksum.Flag : pos.PostApplyChecksum, limit.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LiteFsException($"snapshot timeout exceeded ({timeout.TotalSeconds:0.###}s)");
        }
        catch (InvalidDataException ex)
        {
            // The message names the database and both checksums.
            throw new LiteFsException($"{ex.Message}; the database file changed outside LiteFS", ex);
        }
        return pos;
    }

    /// <summary>
    /// Records the database file as it is as a snapshot LTX file at <paramref name="txid"/>
    /// (<c>0000000000000001-TXID.ltx</c>, what replicas receive as a snapshot), synced and renamed
    /// into place, and moves the position there: start-up's answer to a history that does not
    /// describe the database. The caller holds the monitor and has recovered the database file.
    /// </summary>
    private void RecordSnapshot(TxId txid)
    {
        AssertSync();
        var database = RequireHandle(DbFileKind.Database);
        var checksum = _checksums.Compute(PageCount, PageSize);
        var final = System.IO.Path.Combine(LtxDir, LtxFileName.Format(new TxId(1), txid));
        var temp = final + ".tmp";
        var options = new LtxSnapshotOptions
        {
            Compress = _host.Compress,
            NodeId = _host.NodeId,
            Timestamp = _host.Time.GetUtcNow().ToUnixTimeMilliseconds(),
            Name = Name,
        };
        try
        {
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                LtxSnapshot.Write(new SnapshotPages(database, null, [], PageSize), PageSize, PageCount, output, txid, options, checksum);
                output.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        catch (InvalidDataException ex)
        {
            DeleteFile(temp);
            throw new LiteFsException($"cannot record {FilePath(DbFileKind.Database)} as a snapshot: {ex.Message}", ex);
        }
        Posix.FsyncDirectory(LtxDir);
        _pos = new Pos(txid, checksum);
        Timestamp = options.Timestamp.Value;
    }

    /// <summary>The committed pages: the database file's, overlaid by the newest committed WAL frame of each page.</summary>
    private sealed class SnapshotPages(SafeFileHandle? database, SafeFileHandle? wal, Dictionary<uint, long> frames, int pageSize) : ISnapshotPageSource
    {
        public void ReadPages(uint firstPgno, Span<byte> destination)
        {
            // Pages past the end of the file were never written: SQLite reads them as zeros.
            var read = database is null ? 0 : ReadAt(database, destination, (long)(firstPgno - 1) * pageSize);
            destination[read..].Clear();
            if (wal is null)
            {
                return;
            }
            var count = destination.Length / pageSize;
            for (var i = 0; i < count; i++)
            {
                if (frames.TryGetValue(firstPgno + (uint)i, out var frame))
                {
                    var page = destination.Slice(i * pageSize, pageSize);
                    page[ReadAt(wal, page, frame + Sqlite.WalHeader.FrameHeaderSize)..].Clear();
                }
            }
        }

        private static int ReadAt(SafeFileHandle file, Span<byte> buffer, long offset)
        {
            var total = 0;
            while (total < buffer.Length && RandomAccess.Read(file, buffer[total..], offset + total) is var n and > 0)
            {
                total += n;
            }
            return total;
        }
    }
}
