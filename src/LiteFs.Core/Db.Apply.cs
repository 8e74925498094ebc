using Microsoft.Win32.SafeHandles;
using System.Buffers;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// Applies an LTX file already stored in the LTX directory. The caller holds the internal
    /// write lock. The file is verified completely before the database is touched (unless the
    /// caller just verified it); a crash while pages are being written is repaired at start-up,
    /// which applies the newest file again. <paramref name="durable"/> syncs the database file;
    /// a replica instead syncs its file system periodically (what it loses it streams again).
    /// </summary>
    internal void ApplyLtxFile(string path, bool verified = false, bool durable = true)
    {
        using (EnterSync())
        {
            // One open: the trailer is read first (or the whole file verified), then the pages.
            using var file = File.OpenRead(path);
            LtxTrailer trailer;
            if (verified)
            {
                Span<byte> raw = stackalloc byte[LtxLayout.TrailerSize];
                file.Seek(-LtxLayout.TrailerSize, SeekOrigin.End);
                file.ReadExactly(raw);
                trailer = LtxTrailer.Read(raw);
            }
            else
            {
                (_, trailer, _) = LtxDecoder.Verify(file);
            }
            file.Position = 0;
            using var decoder = new LtxDecoder(file);
            var header = decoder.ReadHeader();
            if (PageSize != 0 && header.PageSize != PageSize)
            {
                throw new LiteFsException($"{Name}: {System.IO.Path.GetFileName(path)} has page size {header.PageSize}, the database has {PageSize}; a database cannot change its page size");
            }
            PageSize = header.PageSize;

            if (header.Commit == 0)
            {
                RemoveDatabaseFiles();
            }
            else
            {
                _applying.Begin(header);
                WritePages(decoder, header, durable);
            }

            AppliedAt(header, trailer);
            if (header.Commit > 0)
            {
                _applying.End();
            }
            if (header.IsSnapshot)
            {
                _host.Invalidator.InvalidateData(Name, DbFileKind.Database, 0, -1);
            }
            _host.Invalidator.InvalidateEntry(Name + "-pos");
            _host.OnTransaction(this, header, _pos);
        }
    }

    /// <summary>
    /// Makes a received, verified snapshot the database; the caller holds the write lock. The
    /// rename replaces the file atomically and the node's handle moves to the new file, so a
    /// reader sees the old database or the new one, never a mix. Then the same bookkeeping as
    /// applying a file: checksums, position, SHM header, kernel cache, subscribers.
    /// </summary>
    internal void InstallSnapshot(string staged, SafeFileHandle database, in LtxHeader header, in LtxTrailer trailer, PageChecksums checksums, bool walHeader)
    {
        using (EnterSync())
        {
            if (PageSize != 0 && header.PageSize != PageSize)
            {
                database.Dispose();
                throw new LiteFsException($"{Name}: snapshot has page size {header.PageSize}, the database has {PageSize}; a database cannot change its page size");
            }
            File.Move(staged, FilePath(DbFileKind.Database), overwrite: true);
            var old = _handles[(int)DbFileKind.Database];
            Volatile.Write(ref _handles[(int)DbFileKind.Database], database);
            old?.Dispose();

            PageSize = header.PageSize;
            PageCount = header.Commit;
            _checksums.ReplaceDatabase(checksums);
            if (walHeader)
            {
                Mode = JournalMode.Wal;
            }
            AppliedAt(header, trailer);
            _host.Invalidator.InvalidateData(Name, DbFileKind.Database, 0, -1);
            _host.Invalidator.InvalidateEntry(Name + "-pos");
            _host.OnTransaction(this, header, Pos);
        }
    }

    /// <summary>
    /// A node that was primary may still have its own committed transactions in the WAL when it
    /// follows another primary: they go into the database file (and the WAL is emptied) before a
    /// received file is applied over it, so neither SQLite nor the checksums lay old frames over
    /// the applied pages. The caller holds the write lock; nothing happens on a WAL without frames.
    /// </summary>
    internal void CheckpointOwnWal()
    {
        using (EnterSync())
        {
            if (Handle(DbFileKind.Wal, create: false) is { } wal && RandomAccess.GetLength(wal) > WalHeader.Size)
            {
                CheckpointWal();
            }
        }
    }

    /// <summary>
    /// An applied file's pages are in place: the database's checksum must be the file's
    /// post-apply checksum; the position and timestamp move to the file's and SQLite's SHM header
    /// is rewritten so its connections reread the database.
    /// </summary>
    internal void AppliedAt(in LtxHeader header, in LtxTrailer trailer)
    {
        AssertSync();
        var checksum = _checksums.Compute(PageCount, PageSize);
        if (checksum != trailer.PostApplyChecksum)
        {
            throw new LiteFsException($"{Name}: database checksum {checksum} on TXID {header.MaxTxId} does not match LTX post-apply checksum {trailer.PostApplyChecksum}");
        }
        _pos = new Pos(header.MaxTxId, trailer.PostApplyChecksum);
        Timestamp = header.Timestamp;
        RewriteShmHeader();
    }

    private void WritePages(LtxDecoder decoder, in LtxHeader header, bool durable)
    {
        AssertSync();
        var database = RequireHandle(DbFileKind.Database, create: true);
        var buffer = ArrayPool<byte>.Shared.Rent(header.PageSize);
        try
        {
            var page = buffer.AsSpan(0, header.PageSize);
            while (decoder.ReadPage(out var ph, page, out var checksum))
            {
                var offset = (long)(ph.Pgno - 1) * PageSize;
                RandomAccess.Write(database, page, offset);
                _checksums.SetDatabase(ph.Pgno, checksum);
                if (!header.IsSnapshot)
                {
                    // A snapshot invalidates the whole file once it is written.
                    _host.Invalidator.InvalidateData(Name, DbFileKind.Database, offset, PageSize);
                }
                if (ph.Pgno == 1 && DatabaseHeader.IsWal(page))
                {
                    Mode = JournalMode.Wal;
                }
            }
            RandomAccess.SetLength(database, (long)header.Commit * PageSize);
            if (durable)
            {
                RandomAccess.FlushToDisk(database);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _checksums.Truncate(header.Commit);
        PageCount = header.Commit;
    }

    /// <summary>Removes the database and its journal, WAL and SHM, keeping the entry (and its TXID sequence).</summary>
    private void RemoveDatabaseFiles()
    {
        AssertSync();
        foreach (var kind in new[] { DbFileKind.Database, DbFileKind.Journal, DbFileKind.Wal, DbFileKind.Shm })
        {
            CloseHandle(kind);
            DeleteFile(FilePath(kind));
            _host.Invalidator.InvalidateEntry(kind switch
            {
                DbFileKind.Database => Name,
                DbFileKind.Journal => Name + "-journal",
                DbFileKind.Wal => Name + "-wal",
                _ => Name + "-shm",
            });
        }
        Mode = JournalMode.Rollback;
        PageCount = 0;
        _recorder.Reset();
        _dirty.Clear();
        _journalActive = false;
    }

    /// <summary>
    /// Deletes the database on the primary: records a deletion LTX file (Commit 0) so replicas
    /// delete theirs, then removes the files. The entry stays, hidden, so a re-created database
    /// continues the TXID sequence.
    /// </summary>
    public void Delete()
    {
        // Not under a HALT lock held from the primary either: a deletion is the primary's alone.
        if (!_host.IsWritable(this) || Halt.Remote is not null)
        {
            throw Refused(new ReadOnlyReplicaException(Name));
        }
        using (EnterSync())
        {
            _recorder.Settle(durable: false);
            if (PageSize == 0)
            {
                throw new LiteFsException($"{Name}: cannot record the deletion of a database whose page size is unknown");
            }
            var header = NewHeader(_pos.TxId.Next, 0);
            FinishLtx(_ltx.Begin(header), Checksum.Flag);
            RemoveDatabaseFiles();
            Committed(header, Checksum.Flag);
        }
    }

    /// <summary>
    /// Deletes LTX files last modified before <paramref name="cutoff"/>, never the newest one
    /// (start-up recovers the position from it).
    /// </summary>
    internal int EnforceRetention(DateTimeOffset cutoff)
    {
        using (EnterSync())
        {
            var files = LtxFiles();
            var removed = 0;
            for (var i = 0; i < files.Count - 1; i++)
            {
                var info = new FileInfo(files[i].Path);
                if (info.Exists && info.LastWriteTimeUtc < cutoff.UtcDateTime)
                {
                    info.Delete();
                    removed++;
                }
            }
            return removed;
        }
    }

    /// <summary>The LTX files of this database, sorted by TXID range; other files are ignored.</summary>
    internal List<(TxId Min, TxId Max, string Path)> LtxFiles()
    {
        var list = new List<(TxId, TxId, string)>();
        if (!Directory.Exists(LtxDir))
        {
            return list;
        }
        foreach (var path in Directory.EnumerateFiles(LtxDir))
        {
            if (LtxFileName.TryParse(System.IO.Path.GetFileName(path), out var min, out var max))
            {
                list.Add((min, max, path));
            }
        }
        list.Sort((a, b) => a.Item2.CompareTo(b.Item2) is var c && c != 0 ? c : a.Item1.CompareTo(b.Item1));
        return list;
    }
}
