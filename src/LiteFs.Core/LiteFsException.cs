namespace LiteFs.Core;

/// <summary>What kind of failure a node operation met; the file system layer maps each to one errno.</summary>
public enum LiteFsError
{
    /// <summary>An unexpected failure (EIO).</summary>
    Io,

    /// <summary>No such database or file (ENOENT).</summary>
    NotFound,

    /// <summary>The file already exists (EEXIST).</summary>
    Exists,

    /// <summary>This node may not write: it is a replica without the HALT lock (EACCES).</summary>
    ReadOnly,

    /// <summary>A request the node refuses as malformed (EINVAL).</summary>
    Invalid,

    /// <summary>The operation is not supported on this file (ENOSYS).</summary>
    NotSupported,

    /// <summary>A conflicting lock is held (EAGAIN).</summary>
    WouldBlock,

    /// <summary>The operation is not permitted (EPERM).</summary>
    NotPermitted,

    /// <summary>The data directory's file system is full: a transaction cannot be recorded (ENOSPC, SQLITE_FULL).</summary>
    NoSpace,
}

/// <summary>A node operation failed; <see cref="Error"/> says how it reaches the application.</summary>
public class LiteFsException : Exception
{
    /// <summary>Creates an exception of a kind with a message.</summary>
    public LiteFsException(LiteFsError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    /// <summary>Creates an I/O failure.</summary>
    public LiteFsException()
        : this(LiteFsError.Io, "I/O error")
    {
    }

    /// <summary>Creates an I/O failure with a message.</summary>
    public LiteFsException(string message)
        : this(LiteFsError.Io, message)
    {
    }

    /// <summary>Creates an I/O failure with a message and cause.</summary>
    public LiteFsException(string message, Exception innerException)
        : this(LiteFsError.Io, message, innerException)
    {
    }

    /// <summary>The kind of failure.</summary>
    public LiteFsError Error { get; }
}

/// <summary>A write reached a replica that does not hold the HALT lock.</summary>
public sealed class ReadOnlyReplicaException(string database)
    : LiteFsException(LiteFsError.ReadOnly, $"database {database} is read-only on this replica: writes go to the primary (or take the HALT lock through {database}-lock)");

/// <summary>
/// The primary did not take a transaction forwarded under a borrowed HALT lock: nothing of it was
/// recorded here, and SQLite gets EIO for the write that would have committed it.
/// </summary>
public sealed class ForwardRefusedException(string message) : LiteFsException(LiteFsError.Io, message);

/// <summary>
/// A failure after SQLite already considered a transaction committed (a WAL commit, applying a
/// replicated file): the node cannot continue and exits with status 99, as upstream does.
/// </summary>
public sealed class FatalDatabaseException(string message, Exception? inner = null) : LiteFsException(LiteFsError.Io, message, inner)
{
    /// <summary>The process exit status for a fatal failure.</summary>
    public const int ExitStatus = 99;
}

/// <summary>A streamed LTX file does not follow the replica's position: the replica reconnects and the primary resyncs it.</summary>
public sealed class PositionMismatchException(string database, Ltx.Pos local, Ltx.Pos expected)
    : LiteFsException(LiteFsError.Io, $"position mismatch on db \"{database}\": {local} <> {expected}")
{
    /// <summary>The replica's position.</summary>
    public Ltx.Pos Local { get; } = local;

    /// <summary>The position the file applies to.</summary>
    public Ltx.Pos Expected { get; } = expected;
}
