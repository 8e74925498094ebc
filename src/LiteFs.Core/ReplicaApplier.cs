using LiteFs.Core.Replication;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

/// <summary>
/// A replica's apply path for one database: receives each streamed LTX file into the LTX
/// directory while verifying it, and only once all of it verified takes the internal write
/// lock (no SQLite connection reads meanwhile) and makes it part of the database. A cut or
/// corrupt payload leaves no trace; a failure after that point is fatal (reported to the node).
/// </summary>
/// <remarks>
/// Threading: called by the database's replication stream, one file at a time (the stream is
/// the only writer of a replica's position). It keeps no state between files: what it stages
/// belongs to the call, and the database's position, checksums and files change only inside
/// <see cref="Db"/>'s methods it calls, under the database's monitor.
/// </remarks>
internal sealed class ReplicaApplier(Db db, IDbHost host, Microsoft.Extensions.Logging.ILogger log)
{
    private readonly Db _db = db;
    private readonly IDbHost _host = host;
    private readonly Microsoft.Extensions.Logging.ILogger _log = log;

    /// <summary>
    /// Receives one streamed LTX file on a replica: checks the position (unless it is a
    /// snapshot), stores the file while verifying it completely, then takes the write lock,
    /// renames the file into place and applies it (a snapshot is written into a new database
    /// file in the same pass, see <see cref="ReceiveSnapshot"/>). Nothing touches the database
    /// before the whole file verified, and readers are held off only while a verified file is
    /// applied; a cut or corrupt payload leaves no trace. A failure while applying a verified
    /// file is fatal.
    /// </summary>
    /// <returns>The applied file's header; or null when the file came from this node and was skipped.</returns>
    public LtxHeader? Receive(ChunkedReadStream payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var headerBytes = new byte[LtxLayout.HeaderSize];
        var read = 0;
        while (read < headerBytes.Length && payload.Read(headerBytes.AsSpan(read)) is var n and > 0)
        {
            read += n;
        }
        if (read < headerBytes.Length)
        {
            throw new StreamProtocolException($"write ltx file: unexpected EOF in the header of an LTX file for {_db.Name}");
        }
        var header = LtxHeader.Read(headerBytes);

        if (header.NodeId == _host.NodeId)
        {
            // Written here and forwarded to the primary: already applied.
            using var skip = new PrefixedStream(headerBytes, payload, null);
            LtxDecoder.Verify(skip);
            return null;
        }
        if (_db.Halt.Remote is { } remote && header.MaxTxId.Value > remote.Pos.TxId.Value && _db.Halt.ClearRemote(remote.Id) is not null)
        {
            // Another node's transaction after the lock's position: the primary let the lock go
            // (its TTL ended). Forgotten here without any lock taken, so the file applies as usual;
            // the writer that held it finds out at its next commit, which the primary refuses.
            DbLog.HaltLost(_log, _db.Name, remote.Id, header.MinTxId);
        }
        // Only this replica's stream moves its position, so it is checked before the file is
        // received (a mismatch means a resync: nothing to receive) and again under the lock.
        if (!header.IsSnapshot && _db.Pos != header.PreApplyPos)
        {
            throw new PositionMismatchException(_db.Name, _db.Pos, header.PreApplyPos);
        }
        Directory.CreateDirectory(_db.LtxDir);
        var final = System.IO.Path.Combine(_db.LtxDir, LtxFileName.Format(header.MinTxId, header.MaxTxId));
        LtxFilePool pool;
        using (_db.EnterSync())
        {
            pool = _db.LtxFilePool;
        }
        // A file made ahead of time: creating one costs more than the rest of a small apply.
        var temp = pool.Take() ?? ReceivingPath(System.IO.Path.GetFileName(final));
        if (header.IsSnapshot && header.Commit > 0)
        {
            return ReceiveSnapshot(headerBytes, header, payload, temp, final, cancellationToken);
        }
        Db.LockSet locks;
        try
        {
            // Received and verified before any lock is taken: a slow or stalled transfer (a
            // large snapshot) never holds up the replica's readers.
            using (var file = new StagedFileWriter(temp))
            {
                using var tee = new PrefixedStream(headerBytes, payload, file);
                LtxDecoder.Verify(tee);
                file.Complete();
            }
            // A database that grows gets its blocks first: a full disk fails here, before
            // anything is applied (the stream is dropped and tried again), never halfway.
            _db.ReserveBlocks(header);
            locks = _db.AcquireWriteLock(cancellationToken, holdOffReaders: true);
            if (!header.IsSnapshot && _db.Pos != header.PreApplyPos)
            {
                locks.Dispose();
                throw new PositionMismatchException(_db.Name, _db.Pos, header.PreApplyPos);
            }
            File.Move(temp, final, overwrite: true);
            _db.NoteLtxRange(header.MinTxId, header.MaxTxId);
        }
        catch
        {
            Db.DeleteFile(temp);
            throw;
        }

        using var held = locks;
        try
        {
            if (header.IsSnapshot)
            {
                DeleteLtxFilesExcept(final);
            }
            ApplyReceived(() => _db.ApplyLtxFile(final, verified: true, durable: false));
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            throw FatalApply(final, ex);
        }
        return header;
    }

    /// <summary>
    /// Applies a transaction forwarded to the primary by the holder of the HALT lock (the HALT
    /// lock holds SQLite's locks; the caller checked the holder and the lock ID). Nothing is
    /// written to the database before all of it is checked: the file must follow the current
    /// position exactly (a snapshot is refused), is stored while its encoding and file checksum
    /// are verified, and the checksum the database would have after it is computed from its
    /// pages and the current ones and must equal the file's post-apply checksum. Only then is
    /// the file made durable, renamed into place and applied (a failure from there on is
    /// fatal), and the streams send it on.
    /// </summary>
    /// <exception cref="LiteFsException">The file was refused (<see cref="LiteFsError.Invalid"/>): nothing changed.</exception>
    public LtxHeader ApplyForwarded(byte[] headerBytes, Stream body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(headerBytes);
        ArgumentNullException.ThrowIfNull(body);
        var header = LtxHeader.Read(headerBytes);
        if (header.IsSnapshot)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"{_db.Name}: a forwarded transaction cannot be a snapshot");
        }
        CheckFollows(header);
        Directory.CreateDirectory(_db.LtxDir);
        var final = System.IO.Path.Combine(_db.LtxDir, LtxFileName.Format(header.MinTxId, header.MaxTxId));
        var temp = ReceivingPath(System.IO.Path.GetFileName(final));
        try
        {
            LtxTrailer trailer;
            using (var file = new StagedFileWriter(temp))
            {
                using var tee = new PrefixedStream(headerBytes, body, file);
                try
                {
                    (_, trailer, _) = LtxDecoder.Verify(tee);
                }
                catch (Exception ex) when (ex is LtxFormatException or InvalidDataException or EndOfStreamException)
                {
                    throw new LiteFsException(LiteFsError.Invalid, $"ltx validation error: {ex.Message}");
                }
                file.Complete();
            }
            cancellationToken.ThrowIfCancellationRequested();

            var pages = new List<(uint, Checksum)>();
            using (var stored = File.OpenRead(temp))
            using (var decoder = new LtxDecoder(stored))
            {
                decoder.ReadHeader();
                var page = new byte[header.PageSize];
                while (decoder.ReadPage(out var ph, page, out var checksum))
                {
                    pages.Add((ph.Pgno, checksum));
                }
            }
            using (_db.EnterSync())
            {
                // Under the monitor from the check to the rename: nothing else moves the position
                // while the HALT lock holds SQLite's locks, but the check is cheap to make exact.
                CheckFollows(header);
                if (_db.PageSize != 0 && header.PageSize != _db.PageSize)
                {
                    throw new LiteFsException(LiteFsError.Invalid, $"{_db.Name}: the file has page size {header.PageSize}, the database has {_db.PageSize}");
                }
                var predicted = _db.PageSize == 0 ? default : _db.PredictChecksum(pages, header.Commit);
                if (_db.PageSize == 0 || predicted != trailer.PostApplyChecksum)
                {
                    throw new LiteFsException(LiteFsError.Invalid,
                        $"{_db.Name}: post-apply checksum mismatch: the file says {trailer.PostApplyChecksum}, its pages give {predicted}");
                }
                using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
                {
                    RandomAccess.FlushToDisk(handle);
                }
                File.Move(temp, final, overwrite: false);
                Posix.FsyncDirectory(_db.LtxDir);
                _db.NoteLtxRange(header.MinTxId, header.MaxTxId);
            }
        }
        catch
        {
            Db.DeleteFile(temp);
            throw;
        }
        ApplyStored(final);
        return header;
    }

    /// <summary>
    /// Applies a file already renamed into the LTX directory, durably, under the write lock the
    /// caller holds (a forwarded transaction, an import). It is part of the history: a failure
    /// from here on is fatal.
    /// </summary>
    public void ApplyStored(string final)
    {
        try
        {
            ApplyReceived(() => _db.ApplyLtxFile(final, verified: true, durable: true));
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            throw FatalApply(final, ex);
        }
    }

    /// <summary>Refuses a file that does not follow the database's position (every committed transaction recorded first).</summary>
    private void CheckFollows(in LtxHeader header)
    {
        var pos = _db.RecordCommitted();
        if (header.MinTxId != pos.TxId.Next)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"non-sequential header minimum txid {header.MinTxId}, expecting {pos.TxId.Next}");
        }
        if (header.PreApplyChecksum != pos.PostApplyChecksum)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"pre-apply checksum mismatch: {header.PreApplyChecksum}, expecting {pos.PostApplyChecksum}");
        }
    }

    /// <summary>
    /// Applies a received file under the write lock the caller holds, with the kernel's caches
    /// around it: pages SQLite dirtied through its SHM mapping are written back before the header
    /// is rewritten (or the write-back would restore the old header afterwards), and stale pages
    /// are dropped before any SQLite reader can take a lock again.
    /// </summary>
    private void ApplyReceived(Action apply)
    {
        _db.SyncShmWithKernel();
        // A former primary's own frames go into the database first.
        _db.CheckpointOwnWal();
        apply();
        _host.Invalidator.Flush();
    }

    /// <summary>A failure applying a received file, which the node cannot continue after: reported, and returned to throw.</summary>
    private FatalDatabaseException FatalApply(string final, Exception ex)
    {
        var fatal = new FatalDatabaseException($"{_db.Name}: cannot apply {System.IO.Path.GetFileName(final)}: {ex.Message}", ex);
        _host.Fatal(fatal);
        return fatal;
    }

    /// <summary>A new name for a file being received into the LTX directory (removed at start-up if left behind).</summary>
    private string ReceivingPath(string name) =>
        System.IO.Path.Combine(_db.LtxDir, $"{Db.ReceivingPrefix}{name}.{Random.Shared.Next()}.tmp");

    /// <summary>After a snapshot: every other LTX file is history the snapshot replaced.</summary>
    private void DeleteLtxFilesExcept(string keep)
    {
        foreach (var (_, _, path) in _db.LtxFiles())
        {
            if (path != keep)
            {
                Db.DeleteFile(path);
            }
        }
    }

    /// <summary>
    /// Writes a file through a pooled staging buffer: a small received file costs one write(2)
    /// and no allocation. A large one is written in 1 MiB pieces by pool threads from a second
    /// buffer while the first fills, so copying into the page cache overlaps with receiving.
    /// </summary>
    private sealed class StagedFileWriter : WriteOnlyStream
    {
        private const int StageSize = 1 << 20;
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
        private readonly OverlappedFileWriter _runs;
        private int _staged;
        private long _offset;

        public StagedFileWriter(string path)
        {
            _file = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None);
            _runs = new OverlappedFileWriter(_file, StageSize);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                var n = Math.Min(buffer.Length, StageSize - _staged);
                buffer[..n].CopyTo(_runs.Buffer.AsSpan(_staged));
                _staged += n;
                buffer = buffer[n..];
                if (_staged == StageSize)
                {
                    _runs.Write(_staged, _offset);
                    _offset += _staged;
                    _staged = 0;
                }
            }
        }

        /// <summary>Writes what is staged; the file is complete.</summary>
        public void Complete()
        {
            if (_staged > 0)
            {
                _runs.WriteLast(_staged, _offset);
                _offset += _staged;
                _staged = 0;
            }
            else
            {
                _runs.Finish();
            }
        }

        protected override void Dispose(bool disposing)
        {
            _runs.Dispose();
            _file.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Reads a prefix already taken from a stream, then the stream itself, copying everything
    /// read into <c>copy</c> (if given): stores a file while the decoder verifies it.
    /// </summary>
    private sealed class PrefixedStream(byte[] prefix, Stream source, Stream? copy) : ReadOnlyStream
    {
        private int _prefixOffset;

        public override int Read(Span<byte> buffer)
        {
            int n;
            if (_prefixOffset < prefix.Length)
            {
                n = Math.Min(buffer.Length, prefix.Length - _prefixOffset);
                prefix.AsSpan(_prefixOffset, n).CopyTo(buffer);
                _prefixOffset += n;
            }
            else
            {
                n = source.Read(buffer);
            }
            copy?.Write(buffer[..n]);
            return n;
        }
    }

    /// <summary>
    /// Receives a snapshot (Commit &gt; 0) on a replica in one pass: while the decoder verifies
    /// the payload, its pages go into a new database file and the payload into the LTX file.
    /// Only once all of it verified is the write lock taken, the LTX file renamed into place and
    /// the new database renamed over the old one (<see cref="Db.InstallSnapshot"/>). A cut or corrupt
    /// payload leaves the database as it was and removes both staged files.
    /// </summary>
    private LtxHeader ReceiveSnapshot(byte[] headerBytes, LtxHeader header, ChunkedReadStream payload, string temp, string final, CancellationToken cancellationToken)
    {
        var staged = ReceivingPath("database");
        var checksums = new PageChecksums();
        SafeFileHandle? database = null;
        LtxTrailer trailer;
        bool walHeader;
        Db.LockSet locks;
        try
        {
            database = File.OpenHandle(staged, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            using (var file = new StagedFileWriter(temp))
            {
                using var tee = new PrefixedStream(headerBytes, payload, file);
                (_, trailer) = LtxSnapshot.Restore(tee, database, checksums.SetDatabase);
                file.Complete();
            }
            Span<byte> sqliteHeader = stackalloc byte[DatabaseHeader.Size];
            walHeader = RandomAccess.Read(database, sqliteHeader, 0) == sqliteHeader.Length && DatabaseHeader.IsWal(sqliteHeader);
            locks = _db.AcquireWriteLock(cancellationToken, holdOffReaders: true);
            try
            {
                File.Move(temp, final, overwrite: true);
            }
            catch
            {
                locks.Dispose();
                throw;
            }
        }
        catch
        {
            database?.Dispose();
            Db.DeleteFile(temp);
            Db.DeleteFile(staged);
            throw;
        }

        using var held = locks;
        try
        {
            DeleteLtxFilesExcept(final);
            ApplyReceived(() => _db.InstallSnapshot(staged, database, header, trailer, checksums, walHeader));
        }
        catch (Exception ex) when (ex is not FatalDatabaseException)
        {
            throw FatalApply(final, ex);
        }
        return header;
    }
}
