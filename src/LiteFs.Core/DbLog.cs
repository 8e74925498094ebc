using LiteFs.Ltx;
using Microsoft.Extensions.Logging;

namespace LiteFs.Core;

/// <summary>
/// <see cref="Db"/>'s log messages (event ids 50–99), written to its category
/// (<c>LiteFs.Core.Db</c>).
/// </summary>
internal static partial class DbLog
{
    [LoggerMessage(50, LogLevel.Warning, "database {Name}: file is not a SQLite database; discarding its folder, it will be replicated again")]
    public static partial void NotSqlite(ILogger logger, string name);

    [LoggerMessage(51, LogLevel.Warning, "database {Name}: recovered WAL transactions after {Before} that had no LTX file; now at {Pos}")]
    public static partial void RecoveredWal(ILogger logger, string name, Pos before, Pos pos);

    [LoggerMessage(52, LogLevel.Warning, "database {Name}: newest LTX file {File} is incomplete ({Reason}); setting it aside")]
    public static partial void IncompleteLtx(ILogger logger, string name, string file, string reason);

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
}
