using LiteFs.Ltx;
using Microsoft.Extensions.Logging;

namespace LiteFs.Core;

/// <summary>What a database needs from the node that holds it.</summary>
internal interface IDbHost
{
    /// <summary>This node's ID, stamped into the LTX files it creates.</summary>
    ulong NodeId { get; }

    /// <summary>Whether LTX files this node creates are LZ4-compressed.</summary>
    bool Compress { get; }

    /// <summary>The clock.</summary>
    TimeProvider Time { get; }

    /// <summary>Where the node logs: each database logs to its own category.</summary>
    ILoggerFactory LoggerFactory { get; }

    /// <summary>Tells the kernel about changes the node made behind SQLite's back.</summary>
    ICacheInvalidator Invalidator { get; }

    /// <summary>Whether this node is the primary.</summary>
    bool IsPrimary { get; }

    /// <summary>Whether writes to <paramref name="db"/> are allowed here (primary, or HALT lock held).</summary>
    bool IsWritable(Db db);

    /// <summary>
    /// A transaction was committed locally or applied: its file is in the LTX directory. Called
    /// under the database's monitor, so it only queues the news; <see cref="DeliverTransactions"/>
    /// tells the subscribers.
    /// </summary>
    void OnTransaction(Db db, in LtxHeader header, Pos pos);

    /// <summary>
    /// Called after a database's monitor was released: tells the subscribers of the transactions
    /// queued so far, in the order they were queued.
    /// </summary>
    void DeliverTransactions();

    /// <summary>Queues a database's recorder for the committer thread (<see cref="WalRecorder.RunCommitter"/>).</summary>
    void ScheduleCommit(WalRecorder recorder);

    /// <summary>
    /// Sends a transaction committed under a HALT lock held from the primary and returns once the
    /// primary applied it; throws <see cref="LiteFsException"/> (EIO) when it did not.
    /// </summary>
    void ForwardTransaction(Db db, long lockId, Stream ltx);

    /// <summary>A failure the node cannot continue after (exit status 99).</summary>
    void Fatal(FatalDatabaseException ex);
}

/// <summary>
/// Kernel cache invalidation, implemented by the file system layer. The core calls it whenever
/// a file changes other than through the mount (applied LTX files, recovery, SHM rewrites).
/// </summary>
public interface ICacheInvalidator
{
    /// <summary>Cached data of a database file in [offset, offset + length) is stale; length -1 means to the end.</summary>
    void InvalidateData(string database, DbFileKind kind, long offset, long length);

    /// <summary>A directory entry (a file appeared or disappeared, or a position changed).</summary>
    void InvalidateEntry(string name);

    /// <summary>
    /// Waits until the kernel has acted on every invalidation asked for so far. Never called from
    /// inside a file-system request (the kernel may need another request answered first).
    /// </summary>
    void Flush();
}

/// <summary>The files of one database.</summary>
public enum DbFileKind
{
    /// <summary>The main database file.</summary>
    Database,

    /// <summary>The rollback journal.</summary>
    Journal,

    /// <summary>The write-ahead log.</summary>
    Wal,

    /// <summary>The WAL index (shared memory).</summary>
    Shm,
}

/// <summary>An invalidator that does nothing (no mount, or tests).</summary>
public sealed class NullCacheInvalidator : ICacheInvalidator
{
    /// <summary>The one instance.</summary>
    public static NullCacheInvalidator Instance { get; } = new();

    /// <inheritdoc />
    public void InvalidateData(string database, DbFileKind kind, long offset, long length)
    {
    }

    /// <inheritdoc />
    public void InvalidateEntry(string name)
    {
    }

    /// <inheritdoc />
    public void Flush()
    {
    }
}
