namespace LiteFs.Core;

/// <summary>
/// Whether one database's transactions can be recorded, as far as space goes. It is set when an
/// LTX file could not be written because the data directory's file system is full, and cleared
/// once one is written again. While it is set the database refuses to start new transactions
/// (SQLite gets SQLITE_FULL), and in WAL mode the transactions SQLite committed stay in the WAL,
/// which nothing checkpoints or overwrites, until the committer records them.
/// </summary>
/// <remarks>
/// Owned by the database's monitor: <see cref="Fail"/> and <see cref="Clear"/> are called with
/// it held; the getters read anywhere (each one word, volatile or read with Volatile).
/// </remarks>
internal sealed class DiskFullGuard
{
    /// <summary>Free space, beyond what the failed attempt needed, before a retry is made (block rounding, directory entries).</summary>
    public const long RetryMargin = 64 << 10;

    /// <summary>Why the last LTX file could not be written; null while recording works. Monitor; read anywhere.</summary>
    private volatile string? _reason;

    /// <summary>When the guard was set (a <see cref="TimeProvider"/> timestamp). Monitor.</summary>
    private long _since;

    /// <summary>The size of the file that could not be written: the space a retry needs at least. Monitor; read anywhere (Volatile).</summary>
    private long _needed;

    /// <summary>Failed attempts to write an LTX file for lack of space, since the node started. Monitor; read anywhere (Volatile).</summary>
    private long _failures;

    /// <summary>Whether the last attempt to record a transaction found the disk full.</summary>
    public bool IsFull => _reason is not null;

    /// <summary>Why, while <see cref="IsFull"/>.</summary>
    public string? Reason => _reason;

    /// <summary>The space the next attempt needs at least, in bytes.</summary>
    public long Needed => Volatile.Read(ref _needed);

    /// <summary>Failed attempts so far (a counter for <c>/metrics</c>).</summary>
    public long Failures => Volatile.Read(ref _failures);

    /// <summary>Records a failed attempt; returns true when it is the first of an episode (to be logged).</summary>
    public bool Fail(string reason, long needed, long now)
    {
        Volatile.Write(ref _failures, _failures + 1);
        Volatile.Write(ref _needed, needed);
        var first = _reason is null;
        if (first)
        {
            _since = now;
        }
        _reason = reason;
        return first;
    }

    /// <summary>Recording works again; returns the timestamp the episode began, or null when there was none.</summary>
    public long? Clear()
    {
        if (_reason is null)
        {
            return null;
        }
        _reason = null;
        return _since;
    }

    /// <summary>Whether <paramref name="ex"/> says the file system is full (ENOSPC) or the user's quota is used up (EDQUOT).</summary>
    public static bool IsDiskFull(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            // .NET's IOException carries the errno as its HResult on Unix.
            if (ex is IOException { HResult: 28 or 122 })
            {
                return true;
            }
        }
        return false;
    }
}
