using LiteFs.Ltx;
using Microsoft.Extensions.Logging;

namespace LiteFs.Core;

/// <summary>
/// <see cref="Db"/>'s log messages (event ids 50–99), written to its category
/// (<c>LiteFs.Core.Db</c>).
/// </summary>
internal static partial class DbLog
{
    [LoggerMessage(50, LogLevel.Warning, "database {Name}: {Path} is not a SQLite database; discarding its folder on this replica, it will be replicated again")]
    public static partial void NotSqlite(ILogger logger, string name, string path);

    [LoggerMessage(51, LogLevel.Warning, "database {Name}: recovered WAL transactions after {Before} that had no LTX file; now at {Pos}")]
    public static partial void RecoveredWal(ILogger logger, string name, Pos before, Pos pos);

    [LoggerMessage(52, LogLevel.Warning, "database {Name}: LTX file {File} {Damage}; set aside as {File}.corrupt")]
    public static partial void LtxSetAside(ILogger logger, string name, string file, string damage);

    [LoggerMessage(53, LogLevel.Information, "database {Name}: truncating WAL from {Size} to {End} bytes: frames after TXID {TxId} have no LTX file")]
    public static partial void TruncatingWal(ILogger logger, string name, long size, long end, TxId txId);

    [LoggerMessage(54, LogLevel.Information, "database {Name}: the WAL is a new generation after the newest LTX file; recording its transactions")]
    public static partial void NewWalGeneration(ILogger logger, string name);

    [LoggerMessage(55, LogLevel.Information, "database {Name}: WAL salts differ from the newest LTX file; setting it aside as wal.removed")]
    public static partial void WalSetAside(ILogger logger, string name);

    [LoggerMessage(56, LogLevel.Information, "database {Name}: rolled back hot journal")]
    public static partial void HotJournalRolledBack(ILogger logger, string name);

    [LoggerMessage(57, LogLevel.Warning, "database {Name}: WAL ignored: {Reason}")]
    public static partial void WalIgnored(ILogger logger, string name, string reason);

    [LoggerMessage(58, LogLevel.Warning, "write to {Name} refused: this node is a replica; send writes to the primary ({Reason})")]
    public static partial void WriteRefused(ILogger logger, string name, string reason);

    [LoggerMessage(59, LogLevel.Warning, "database {Name}: cannot sync LTX files: {Reason}")]
    public static partial void SyncFailed(ILogger logger, string name, string reason);

    [LoggerMessage(60, LogLevel.Warning, "database {Name}: cannot record WAL transactions at shutdown: {Reason}")]
    public static partial void ShutdownRecordFailed(ILogger logger, string name, string reason);

    [LoggerMessage(61, LogLevel.Warning, "database {Name}: cannot sync LTX files at shutdown: {Reason}")]
    public static partial void ShutdownSyncFailed(ILogger logger, string name, string reason);

    [LoggerMessage(62, LogLevel.Information, "database {Name}: HALT lock {Id} granted at {Pos}; local writes wait until it is released")]
    public static partial void HaltGranted(ILogger logger, string name, long id, Pos pos);

    [LoggerMessage(63, LogLevel.Information, "database {Name}: HALT lock {Id} released")]
    public static partial void HaltReleased(ILogger logger, string name, long id);

    [LoggerMessage(64, LogLevel.Warning, "database {Name}: HALT lock {Id} expired without a release; local writes resume")]
    public static partial void HaltExpired(ILogger logger, string name, long id);

    [LoggerMessage(98, LogLevel.Warning, "database {Name}: HALT lock {Id} is no longer held on the primary (its transaction {TxId} arrived from another node); writes here are refused again")]
    public static partial void HaltLost(ILogger logger, string name, long id, TxId txId);

    [LoggerMessage(65, LogLevel.Warning, "database {Name}: the database holds its transaction although LTX file {File} is damaged (TXID {TxId}, checksum {Checksum}): position kept, the file made again as a snapshot of the database")]
    public static partial void DamagedLtxInDatabase(ILogger logger, string name, string file, TxId txId, Checksum checksum);

    [LoggerMessage(66, LogLevel.Warning, "database {Name}: the transaction of damaged LTX file {File} is not in the database; continuing from {Newest}")]
    public static partial void DamagedLtxNotInDatabase(ILogger logger, string name, string file, string newest);

    [LoggerMessage(67, LogLevel.Error, "database {Name}: the database matches neither damaged LTX file {File} nor the LTX file before it; recording the database as it is as a new snapshot at TXID {TxId} (replicas take it whole)")]
    public static partial void DamagedLtxNewSnapshot(ILogger logger, string name, string file, TxId txId);

    [LoggerMessage(68, LogLevel.Warning, "database {Name}: {Path} {Found}; rebuilt from LTX files {First} to {Last} at position {Pos}, the damaged file kept as {Path}.corrupt")]
    public static partial void DatabaseRebuilt(ILogger logger, string name, string path, string found, string first, string last, Pos pos);

    [LoggerMessage(69, LogLevel.Warning, "database {Name} has pages but no LTX history ({Pages} pages): recording the database as it is as a new snapshot at TXID {TxId}")]
    public static partial void NoHistory(ILogger logger, string name, uint pages, TxId txId);

    [LoggerMessage(70, LogLevel.Warning, "database {Name} has pages but no LTX history on this replica ({Pages} pages): it waits for a snapshot from the primary")]
    public static partial void NoHistoryOnReplica(ILogger logger, string name, uint pages);

    [LoggerMessage(71, LogLevel.Warning, "database {Name}: LTX history replaced by a snapshot of the database at {Pos}; the previous files are in {SetAside}")]
    public static partial void HistoryReplaced(ILogger logger, string name, Pos pos, string setAside);

    [LoggerMessage(73, LogLevel.Error, "database {Name}: the data directory is full, a committed WAL transaction cannot be recorded ({Reason}); it stays in the WAL and checkpoints wait until space is freed; WAL writes the node sees get SQLITE_FULL meanwhile (recorded position {Pos})")]
    public static partial void DiskFullWal(ILogger logger, string name, string reason, Pos pos);

    [LoggerMessage(74, LogLevel.Error, "database {Name}: the data directory is full, a transaction cannot be recorded ({Reason}); SQLite rolls it back from its journal, new writes get SQLITE_FULL until space is freed (position {Pos})")]
    public static partial void DiskFullJournal(ILogger logger, string name, string reason, Pos pos);

    [LoggerMessage(75, LogLevel.Warning, "database {Name}: space freed, transactions are recorded again after {Milliseconds} ms (position {Pos})")]
    public static partial void DiskFullResolved(ILogger logger, string name, long milliseconds, Pos pos);

    [LoggerMessage(76, LogLevel.Warning, "database {Name}: the data directory is full: the WAL is kept and followed instead of checkpointed at start-up (position {Pos})")]
    public static partial void OpenedFollowingWal(ILogger logger, string name, Pos pos);

    [LoggerMessage(72, LogLevel.Warning, "database {Name}: {Path} is not a SQLite database but only zeros ({Length} bytes, never written) and there is no LTX history: set aside as {Path}.corrupt, the database starts empty")]
    public static partial void ZeroDatabaseSetAside(ILogger logger, string name, string path, long length);

    [LoggerMessage(95, LogLevel.Warning, "database {Name}: an apply of LTX file {File} was interrupted ({Why}); applying it again")]
    public static partial void CompletingInterruptedApply(ILogger logger, string name, string file, string why);

    [LoggerMessage(96, LogLevel.Error, "database {Name} is past its newest LTX file {File} ({Why}): a newer LTX file is missing or the database was changed outside the node; recording the database as it is as a new snapshot at TXID {TxId}, never rolling it back (replicas take it whole)")]
    public static partial void DatabasePastHistory(ILogger logger, string name, string file, string why, TxId txId);

    [LoggerMessage(77, LogLevel.Warning, "database {Name}: waiting {Milliseconds:0} ms for SQLite's locks to apply a transaction (internal owner {Owner:X}): {Locks}")]
    public static partial void WriteLockSlow(ILogger logger, string name, double milliseconds, ulong owner, string locks);
}
