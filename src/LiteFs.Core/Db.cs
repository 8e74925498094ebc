using System.Buffers.Binary;
using LiteFs.Core.Locking;
using LiteFs.Core.Sqlite;
using LiteFs.Ltx;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

/// <summary>How SQLite journals the database, as far as the node tracks it.</summary>
public enum JournalMode
{
    /// <summary>A rollback journal (DELETE, TRUNCATE or PERSIST).</summary>
    Rollback,

    /// <summary>Write-ahead logging.</summary>
    Wal,
}

/// <summary>
/// One replicated database: its files in the data directory, its position, per-page checksums,
/// SQLite locks, and the capture of each committed transaction into an LTX file. All state
/// changes happen under <see cref="_sync"/>; SQLite's own locks (taken through the mount)
/// order the transactions.
/// </summary>
public sealed partial class Db : IDisposable
{
    // Fields, each with its owner. "Monitor": written only while holding _sync (the database's
    // monitor, entered through EnterSync); a field marked "read anywhere" is one word, volatile or
    // read with Volatile, where a value one change old is harmless to the reader. "Atomic flag":
    // changed only with Interlocked, by the threads named. Partial files hold methods only.

    private readonly IDbHost _host;
    private readonly ILogger _log;

    /// <summary>
    /// The database's monitor: owns every field below unless its comment says otherwise, as
    /// upstream's one mutex per database. Entered through <see cref="EnterSync"/> only.
    /// </summary>
    private readonly object _sync = new();

    /// <summary>How many times the current owner of <see cref="_sync"/> entered it. Monitor.</summary>
    private int _syncDepth;

    /// <summary>Monitor.</summary>
    private bool _disposed;

    // The database image the node tracks.

    /// <summary>Per-page checksums of the database file and of the WAL's committed frames. Monitor.</summary>
    private readonly PageChecksums _checksums = new();

    /// <summary>Pages written by the open rollback-journal transaction. Monitor.</summary>
    private readonly HashSet<uint> _dirty = [];

    /// <summary>The node's handles on the four files; opened and closed under the monitor, used for I/O anywhere (Volatile).</summary>
    private readonly SafeFileHandle?[] _handles = new SafeFileHandle?[4];

    /// <summary>The position of the last recorded transaction. Monitor.</summary>
    private Pos _pos;

    /// <summary>Monitor; read anywhere.</summary>
    private volatile int _pageSize;

    /// <summary>Monitor; read anywhere.</summary>
    private volatile uint _pageCount;

    /// <summary>Monitor; read anywhere.</summary>
    private volatile JournalMode _mode;

    /// <summary>Milliseconds since the epoch of the last transaction. Monitor; read anywhere (Volatile).</summary>
    private long _timestamp;

    /// <summary>A rollback transaction is open: the journal holds a header written since the last commit. Monitor.</summary>
    private bool _journalActive;

    // Recording and durability.

    /// <summary>Follows the WAL and records its committed transactions; its own fields, under this monitor or as it says.</summary>
    private readonly WalRecorder _recorder;

    /// <summary>Receives and applies streamed LTX files on a replica; keeps no state between files.</summary>
    private readonly ReplicaApplier _applier;

    /// <summary>Stores the LTX files this node records and counts their durability. Monitor (it checks).</summary>
    private readonly LtxWriter _ltx;

    /// <summary>
    /// Where stored files holding several transactions end, by first TXID (group commits here,
    /// or received from a primary that groups them): a file is found by its first TXID without
    /// listing the directory. Thread-safe on its own (concurrent dictionary).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, ulong> _ltxRangeEnds = new();

    /// <summary>Rewrites the SHM header after an applied file or a checkpoint; its own fields (see its remarks).</summary>
    private readonly ShmHeaderWriter _shm = new();

    /// <summary>Which LTX file is being applied to the database file, for start-up after a kill (<c>applying</c>). Monitor.</summary>
    private readonly ApplyMarker _applying;

    /// <summary>Whether the last LTX file could not be written for lack of space; its own fields (see its remarks).</summary>
    private readonly DiskFullGuard _diskFull = new();

    // Replica side.

    /// <summary>
    /// The primary refused the WAL transaction being written under a borrowed HALT lock: every
    /// WAL write fails until SQLite releases the WAL write lock (the kernel splits a write at page
    /// boundaries and SQLite retries the rest, which must not succeed). Monitor.
    /// </summary>
    private bool _forwardRefused;

    // Set (never cleared) once the kernel was given the WAL for passthrough writes: from then on,
    // while this node may not write, the WAL write lock is refused (Db.Locks.cs), since writes
    // through such a descriptor never reach the node. Written by any thread; read by lock requests.
    private volatile bool _passthroughGiven;

    /// <summary>When a refused write was last logged (a <see cref="IDbHost.Time"/> timestamp), 0 before any: changed only with Interlocked.</summary>
    private long _lastRefusalLog;

    /// <summary>Lock owners of the node's own operations, far from the values the kernel gives FUSE lock owners: Interlocked.</summary>
    private static long s_nextInternalOwner = unchecked((long)0xF1F5_0000_0000_0000);

    internal Db(IDbHost host, string name, string path)
    {
        _host = host;
        _log = host.LoggerFactory.CreateLogger<Db>();
        Name = name;
        Path = path;
        LtxDir = System.IO.Path.Combine(path, "ltx");
        _ltx = new LtxWriter(name, LtxDir, _sync);
        _applying = new ApplyMarker(path);
        _recorder = new WalRecorder(this, host, _ltx, _log);
        _applier = new ReplicaApplier(this, host, _log);
        Halt = new HaltLock(this, host.Time, _log);
    }

    /// <summary>The database's name in the mount.</summary>
    public string Name { get; }

    /// <summary>The database's folder in the data directory (<c>dbs/NAME</c>).</summary>
    public string Path { get; }

    /// <summary>The folder of its LTX files.</summary>
    public string LtxDir { get; }

    /// <summary>Page size; 0 until known.</summary>
    public int PageSize
    {
        get => _pageSize;
        private set => _pageSize = value;
    }

    /// <summary>Database size in pages as of the last transaction. Set under the monitor (the recorder sets it too).</summary>
    public uint PageCount
    {
        get => _pageCount;
        internal set
        {
            AssertSync();
            _pageCount = value;
        }
    }

    /// <summary>The position, for the parts of this database that hold its monitor (no settling: that is theirs to decide).</summary>
    internal Pos CurrentPos
    {
        get
        {
            AssertSync();
            return _pos;
        }
    }

    /// <summary>The per-page checksums, for the parts of this database that hold its monitor.</summary>
    internal PageChecksums Checksums
    {
        get
        {
            AssertSync();
            return _checksums;
        }
    }

    /// <summary>Whether <see cref="Dispose"/> ran. Monitor.</summary>
    internal bool IsDisposed
    {
        get
        {
            AssertSync();
            return _disposed;
        }
    }

    /// <summary>The pool of files made ahead of time in the LTX directory (taken under the monitor).</summary>
    internal LtxFilePool LtxFilePool
    {
        get
        {
            using (EnterSync())
            {
                return _ltx.Pool;
            }
        }
    }

    /// <summary>The recorder of this database's WAL transactions.</summary>
    internal WalRecorder Recorder => _recorder;

    /// <summary>The journal mode the node tracks.</summary>
    public JournalMode Mode
    {
        get => _mode;
        private set => _mode = value;
    }

    /// <summary>
    /// The position of the last recorded transaction (TXID and checksum of the same transaction,
    /// read as one value). WAL transactions SQLite committed that the committer has not recorded
    /// yet are not in it; <see cref="RecordCommitted"/> records them first.
    /// </summary>
    public Pos Pos
    {
        get
        {
            using (EnterSync())
            {
                return _pos;
            }
        }
    }

    /// <summary>
    /// Records every transaction SQLite committed that has no LTX file yet (the committer would
    /// a moment later), then returns the position: for readers that must see every acknowledged
    /// transaction, such as the <c>-pos</c> file an application reads after its commit.
    /// </summary>
    public Pos RecordCommitted()
    {
        using (EnterSync())
        {
            _recorder.Settle(durable: false);
            return _pos;
        }
    }

    /// <summary>Milliseconds since the epoch of the last transaction committed or applied.</summary>
    public long Timestamp
    {
        get => Volatile.Read(ref _timestamp);
        private set => Volatile.Write(ref _timestamp, value);
    }

    /// <summary>The database's HALT lock: granted to a replica here, or held from the primary (its own lock; see its remarks).</summary>
    public HaltLock Halt { get; }

    /// <summary>The SQLite locks.</summary>
    internal DbLocks Locks { get; } = new();

    /// <summary>
    /// Enters the database's monitor. Leaving the outermost scope exits it and then, outside it,
    /// lets the node deliver the transactions recorded or applied meanwhile: subscribers never run
    /// under a database's monitor.
    /// </summary>
    internal SyncScope EnterSync()
    {
        Monitor.Enter(_sync);
        _syncDepth++;
        return new SyncScope(this);
    }

    private void ExitSync()
    {
        var outermost = --_syncDepth == 0;
        Monitor.Exit(_sync);
        if (outermost)
        {
            _host.DeliverTransactions();
        }
    }

    /// <summary>Checks, in debug builds, that the caller holds the database's monitor.</summary>
    [System.Diagnostics.Conditional("DEBUG")]
    internal void AssertSync() => System.Diagnostics.Debug.Assert(Monitor.IsEntered(_sync), $"{Name}: the caller must hold the database's monitor");

    /// <summary>A scope inside the database's monitor (see <see cref="EnterSync"/>).</summary>
    internal readonly ref struct SyncScope(Db db)
    {
        public void Dispose() => db.ExitSync();
    }

    /// <summary>The real path of one of the database's files.</summary>
    public string FilePath(DbFileKind kind) => System.IO.Path.Combine(Path, kind switch
    {
        DbFileKind.Database => "database",
        DbFileKind.Journal => "journal",
        DbFileKind.Wal => "wal",
        _ => "shm",
    });

    /// <summary>Whether the real file exists.</summary>
    public bool Exists(DbFileKind kind) => File.Exists(FilePath(kind));

    /// <summary>Size of the real file, or -1 if it does not exist.</summary>
    public long Size(DbFileKind kind)
    {
        var info = new FileInfo(FilePath(kind));
        return info.Exists ? info.Length : -1;
    }

    /// <summary>The rolling checksum the per-page checksums give for the current page count.</summary>
    internal Checksum ComputeChecksum() => _checksums.Compute(PageCount, PageSize);

    /// <summary>
    /// The node's descriptor of a file, for the file system to let the kernel read and write it
    /// directly (FUSE passthrough), or -1. Only the WAL, and only while this node may write: its
    /// frames are read back from the file at each commit, so the node never needs to see them
    /// written. A replica's WAL stays behind the node, which refuses writes to it; except that
    /// while WAL descriptors given as primary may still be open, a replica offers the descriptor
    /// to join them (<paramref name="onlyIfInUse"/>): the kernel keeps one I/O mode per file and
    /// fails any other open with EIO. Writes through them need the WAL write lock, which a node
    /// that gave them refuses while it may not write (<see cref="Lock"/>).
    /// </summary>
    /// <remarks>The descriptor is a duplicate the caller must close: the node's own may be closed any time.</remarks>
    public int PassthroughDescriptor(DbFileKind kind, out bool onlyIfInUse)
    {
        onlyIfInUse = false;
        // Not under a HALT lock held from the primary: each commit there is forwarded when the
        // WAL write lock is released, and writes after the lock ends must reach the node.
        if (kind != DbFileKind.Wal || Halt.Remote is not null)
        {
            return -1;
        }
        var writable = _host.IsWritable(this);
        if (!writable && !_passthroughGiven)
        {
            return -1;
        }
        using (EnterSync())
        {
            // Under the monitor: removing the file closes the node's handle under it too.
            if (Handle(kind, create: false) is not { } handle)
            {
                return -1;
            }
            if (writable)
            {
                _passthroughGiven = true;
            }
            onlyIfInUse = !writable;
            return Posix.Duplicate((int)handle.DangerousGetHandle());
        }
    }

    /// <summary>Reads from one of the files (passthrough).</summary>
    public int Read(DbFileKind kind, Span<byte> buffer, long offset)
    {
        var handle = Handle(kind, create: false) ?? throw new LiteFsException(LiteFsError.NotFound, $"{Name}: {kind} file does not exist");
        try
        {
            return RandomAccess.Read(handle, buffer, offset);
        }
        catch (ObjectDisposedException) when (kind == DbFileKind.Database)
        {
            // A snapshot replaced the file (and the handle) meanwhile: read the new one.
            return Read(kind, buffer, offset);
        }
    }

    /// <summary>Creates one of the files exclusively.</summary>
    public void Create(DbFileKind kind)
    {
        if (kind == DbFileKind.Journal && !_host.IsWritable(this))
        {
            throw Refused(new ReadOnlyReplicaException(Name));
        }
        using (EnterSync())
        {
            try
            {
                _recorder.Settle(durable: false);
            }
            catch (LiteFsException ex) when (ex.Error == LiteFsError.NoSpace && kind != DbFileKind.Wal)
            {
                // The disk is full: a reader's SHM file (or a journal, whose writes are refused)
                // does not touch the transactions waiting in the WAL.
            }
            var path = FilePath(kind);
            try
            {
                _handles[(int)kind]?.Dispose();
                _handles[(int)kind] = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (IOException) when (File.Exists(path))
            {
                throw new LiteFsException(LiteFsError.Exists, $"{path} already exists");
            }
        }
    }

    /// <summary>Writes to one of the files, with the checks and commit detection each one needs.</summary>
    public void Write(DbFileKind kind, ReadOnlySpan<byte> data, long offset)
    {
        switch (kind)
        {
            case DbFileKind.Database:
                WriteDatabase(data, offset);
                break;
            case DbFileKind.Journal:
                WriteJournal(data, offset);
                break;
            case DbFileKind.Wal:
                WriteWal(data, offset);
                break;
            default:
                WriteShm(data, offset);
                break;
        }
    }

    /// <summary>Truncates one of the files, with each one's rules.</summary>
    public void Truncate(DbFileKind kind, long size)
    {
        switch (kind)
        {
            case DbFileKind.Database:
                TruncateDatabase(size);
                break;
            case DbFileKind.Journal:
                TruncateJournal(size);
                break;
            case DbFileKind.Wal:
                TruncateWal(size);
                break;
            default:
                RandomAccess.SetLength(RequireHandle(DbFileKind.Shm), size);
                break;
        }
    }

    /// <summary>Removes one of the auxiliary files (the database itself is removed with <see cref="Delete"/>).</summary>
    public void Unlink(DbFileKind kind)
    {
        switch (kind)
        {
            case DbFileKind.Journal:
                CommitJournal(JournalFinish.Delete);
                break;
            case DbFileKind.Wal:
                using (EnterSync())
                {
                    _recorder.Settle(durable: true);
                    CloseHandle(DbFileKind.Wal);
                    DeleteFile(FilePath(DbFileKind.Wal));
                    _recorder.Rewind();
                }
                break;
            case DbFileKind.Shm:
                using (EnterSync())
                {
                    CloseHandle(DbFileKind.Shm);
                    DeleteFile(FilePath(DbFileKind.Shm));
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), "use Delete to remove a database");
        }
    }

    /// <summary>
    /// SQLite asked for one of the files to be made durable. Besides syncing that file, this is
    /// when LTX files committed since the last such request are synced: the node promises the
    /// durability SQLite's own synchronous setting asks for, with no fsync of its own per commit
    /// when SQLite does not sync per commit.
    /// </summary>
    public void Sync(DbFileKind kind)
    {
        var handle = Handle(kind, create: false);
        if (handle is not null)
        {
            RandomAccess.FlushToDisk(handle);
        }
        // A synced WAL is itself the durable copy of its transactions until they are checkpointed
        // or overwritten, and their LTX files are synced before either happens.
        if (kind is not DbFileKind.Shm and not DbFileKind.Wal)
        {
            using (EnterSync())
            {
                // In WAL mode the database file is synced by checkpoints, which settle the WAL first.
                if (Mode == JournalMode.Rollback || _journalActive || kind == DbFileKind.Journal)
                {
                    _ltx.RequestSync();
                }
                _ltx.SyncPending();
            }
        }
    }

    private void WriteDatabase(ReadOnlySpan<byte> data, long offset)
    {
        if (!_host.IsWritable(this))
        {
            // EIO, not EACCES, as upstream: SQLite reports "disk I/O error" for a page write.
            throw Refused(new LiteFsException(LiteFsError.Io, $"database {Name} is read-only on this replica: writes go to the primary"));
        }
        if (data.IsEmpty)
        {
            return;
        }
        _recorder.BeforeDatabaseWrite();
        using (EnterSync())
        {
            if (PageSize == 0)
            {
                if (offset != 0 || data.Length < DatabaseHeader.Size || !DatabaseHeader.HasMagic(data))
                {
                    throw new LiteFsException($"{Name}: first write must be a SQLite header at offset 0 (offset {offset}, {data.Length} bytes)");
                }
                PageSize = DatabaseHeader.ReadPageSize(data);
                if (PageSize == 0)
                {
                    throw new LiteFsException($"{Name}: the SQLite header gives an invalid page size");
                }
            }
            if (data.Length != PageSize || offset % PageSize != 0)
            {
                throw new LiteFsException($"{Name}: database writes must be one aligned page of {PageSize} bytes (got {data.Length} bytes at offset {offset})");
            }
            var pgno = (uint)(offset / PageSize) + 1;
            RandomAccess.Write(RequireHandle(DbFileKind.Database, create: true), data, offset);
            _checksums.SetDatabase(pgno, pgno == LockPgno ? default : Checksum.OfPage(pgno, data));

            // Pages of a rollback-journal transaction. Also while a journal exists in WAL mode:
            // SQLite leaving WAL rewrites page 1 inside a rollback transaction.
            if (Mode == JournalMode.Rollback || _journalActive)
            {
                _dirty.Add(pgno);
            }
        }
    }

    private void TruncateDatabase(long size)
    {
        using (EnterSync())
        {
            _recorder.Settle(durable: Mode == JournalMode.Wal);
            if (PageSize == 0 || size % PageSize != 0 || size / PageSize != PageCount)
            {
                throw new LiteFsException($"{Name}: database may only be truncated to its committed size ({PageCount} pages of {PageSize}); asked for {size} bytes");
            }
            RandomAccess.SetLength(RequireHandle(DbFileKind.Database, create: true), size);
        }
    }

    private void WriteShm(ReadOnlySpan<byte> data, long offset)
    {
        if (_shm.IsRewriting)
        {
            // SQLite refreshing its mapping while the node rewrites the header: drop it.
            return;
        }
        RandomAccess.Write(RequireHandle(DbFileKind.Shm, create: true), data, offset);
    }

    /// <summary>
    /// Rewrites the SHM header so that SQLite connections see an empty WAL and a changed database,
    /// and reread every page (<see cref="ShmHeaderWriter"/>). Called after every applied LTX file
    /// and every checkpoint the node makes.
    /// </summary>
    private void RewriteShmHeader()
    {
        AssertSync();
        _shm.Rewrite(RequireHandle(DbFileKind.Shm, create: true), PageSize, PageCount, _recorder.Cursor);
        _host.Invalidator.InvalidateData(Name, DbFileKind.Shm, 0, -1);
    }

    /// <summary>
    /// Has the kernel write back the SHM pages SQLite dirtied through its mapping and drop its
    /// cached ones, and waits until it did: before the node changes the header (or the write-back
    /// would put the old header back over it) and after (so every mapping reads the new one).
    /// Never under the monitor: the kernel's write-back is answered by request threads that may need it.
    /// </summary>
    internal void SyncShmWithKernel()
    {
        _host.Invalidator.InvalidateData(Name, DbFileKind.Shm, 0, -1);
        _host.Invalidator.Flush();
    }

    private uint LockPgno => LtxLayout.LockPageNumber(PageSize);

    private SafeFileHandle RequireHandle(DbFileKind kind, bool create = false) =>
        Handle(kind, create) ?? throw new LiteFsException(LiteFsError.NotFound, $"{Name}: the {kind.ToString().ToLowerInvariant()} file does not exist");

    /// <summary>The node's handle on one of the files, opened on first use; null if it does not exist.</summary>
    internal SafeFileHandle? Handle(DbFileKind kind, bool create)
    {
        var handle = Volatile.Read(ref _handles[(int)kind]);
        if (handle is not null && !handle.IsClosed)
        {
            return handle;
        }
        using (EnterSync())
        {
            handle = _handles[(int)kind];
            if (handle is not null && !handle.IsClosed)
            {
                return handle;
            }
            var path = FilePath(kind);
            if (!create && !File.Exists(path))
            {
                return null;
            }
            try
            {
                handle = File.OpenHandle(path, create ? FileMode.OpenOrCreate : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            _handles[(int)kind] = handle;
            return handle;
        }
    }

    private void CloseHandle(DbFileKind kind)
    {
        _handles[(int)kind]?.Dispose();
        _handles[(int)kind] = null;
    }

    internal static void DeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        using (EnterSync())
        {
            try
            {
                // A clean shutdown leaves every committed transaction recorded and durable.
                _recorder.Settle(durable: true);
            }
            catch (FatalDatabaseException ex)
            {
                DbLog.ShutdownRecordFailed(_log, Name, ex.Message);
            }
            catch (IOException ex)
            {
                DbLog.ShutdownSyncFailed(_log, Name, ex.Message);
            }
            catch (LiteFsException ex) when (ex.Error == LiteFsError.NoSpace)
            {
                // Left in the WAL: start-up records them.
                DbLog.ShutdownRecordFailed(_log, Name, ex.Message);
            }
            _disposed = true;
            _ltx.Dispose();
            _applying.Dispose();
            for (var i = 0; i < _handles.Length; i++)
            {
                _handles[i]?.Dispose();
                _handles[i] = null;
            }
        }
    }
}
