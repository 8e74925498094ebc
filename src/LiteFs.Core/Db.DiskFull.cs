using LiteFs.Core.Sqlite;

namespace LiteFs.Core;

public sealed partial class Db
{

    /// <summary>
    /// Why this database's writes are refused for lack of space (the last LTX file could not be
    /// written), or null while they are not. Read anywhere.
    /// </summary>
    public string? DiskFullReason => _diskFull.Reason;

    /// <summary>Attempts to record a transaction that failed for lack of space, since the node started. Read anywhere.</summary>
    public long DiskFullErrors => _diskFull.Failures;

    /// <summary>
    /// An LTX file could not be written because the data directory is full: it is given up (its
    /// partial file removed), the first failure of an episode is logged, and the returned error
    /// (ENOSPC, which SQLite reports as SQLITE_FULL) is what the SQLite operation fails with.
    /// Monitor.
    /// </summary>
    /// <param name="ex">The failure.</param>
    /// <param name="alsoNeeded">Space the next attempt needs besides the file (a rollback journal).</param>
    internal LiteFsException RecordingFailedForSpace(Exception ex, long alsoNeeded = 0)
    {
        AssertSync();
        // With room for the file's blocks and directory entries too: a retry is made only then.
        var needed = _ltx.Abandon() + alsoNeeded + DiskFullGuard.RetryMargin;
        if (_diskFull.Fail(ex.Message, needed, _host.Time.GetTimestamp()))
        {
            if (Mode == JournalMode.Wal)
            {
                DbLog.DiskFullWal(_log, Name, ex.Message, _pos);
            }
            else
            {
                DbLog.DiskFullJournal(_log, Name, ex.Message, _pos);
            }
        }
        return DiskFullRefusal();
    }

    /// <summary>The error a write gets while the disk is full.</summary>
    private LiteFsException DiskFullRefusal() =>
        new(LiteFsError.NoSpace, $"{Name}: writes refused: the data directory is full ({_diskFull.Reason}); they resume once space is freed");

    /// <summary>An LTX file was written (or nothing was pending): writes are allowed again. Monitor.</summary>
    internal void RecordingResumed()
    {
        AssertSync();
        if (_diskFull.Clear() is { } since)
        {
            DbLog.DiskFullResolved(_log, Name, (long)_host.Time.GetElapsedTime(since).TotalMilliseconds, _pos);
        }
    }

    /// <summary>
    /// The store's periodic check while writes are refused for lack of space: once the file system
    /// has room for the file that could not be written, a WAL database's committer tries again to
    /// record the transactions waiting in the WAL (and allows writes once it has); a rollback
    /// database has nothing waiting and allows writes again at once. Any thread not holding the monitor.
    /// </summary>
    internal void RetryAfterDiskFull()
    {
        if (!_diskFull.IsFull)
        {
            return;
        }
        var free = Posix.FreeBytes(LtxDir);
        if (free >= 0 && free <= _diskFull.Needed)
        {
            return;
        }
        if (Mode == JournalMode.Wal)
        {
            _recorder.RetryAfterDiskFull();
            return;
        }
        using (EnterSync())
        {
            RecordingResumed();
        }
    }

    /// <summary>
    /// Before a received file is applied: allocates the database file's blocks up to the size
    /// the file leaves (its size is unchanged), so that writing its pages cannot fail for lack
    /// of space halfway. Throws an <see cref="IOException"/> (ENOSPC) when the disk has no room.
    /// </summary>
    internal void ReserveBlocks(in Ltx.LtxHeader header)
    {
        var needed = (long)header.Commit * header.PageSize;
        var database = Handle(DbFileKind.Database, create: true);
        if (database is not null && needed > RandomAccess.GetLength(database))
        {
            Posix.ReserveBlocks(database, needed);
        }
        // The SHM header is rewritten after the pages: its first block too.
        if (Handle(DbFileKind.Shm, create: true) is { } shm && RandomAccess.GetLength(shm) < ShmLayout.HeaderSize)
        {
            Posix.ReserveBlocks(shm, ShmLayout.HeaderSize);
        }
    }
}
