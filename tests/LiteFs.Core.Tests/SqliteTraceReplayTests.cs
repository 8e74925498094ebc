using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// SQLite's recorded file operations (tests/testdata/sqlite-traces) replayed against a store's
/// databases without a mount: every journal mode's commit points become the recorded LTX files
/// and positions, and those files rebuild the database SQLite produced.
/// </summary>
public class SqliteTraceReplayTests
{
    public static TheoryData<string> Traces => ["delete", "persist", "truncate", "wal-normal", "wal-full"];

    [Theory]
    [MemberData(nameof(Traces))]
    public void Replay_EachCommitPoint_RecordsTransactionAsLtx(string trace)
    {
        using var replay = new TraceReplayer(trace);
        replay.Run();
    }

    public static TheoryData<string> WalTraces => ["wal-normal", "wal-full"];

    /// <summary>
    /// The primary hands SQLite the WAL's descriptor (FUSE passthrough): frames and headers never
    /// reach the node, which must find every commit from the release of the WAL write lock and
    /// every new WAL generation from the READ locks SQLite takes before writing its header.
    /// </summary>
    [Theory]
    [MemberData(nameof(WalTraces))]
    public void Replay_WalWrittenThroughPassthrough_EachCommitPointRecordsTransactionAsLtx(string trace)
    {
        using var replay = new TraceReplayer(trace, walPassthrough: true);
        replay.Run();
    }

    [Theory]
    [MemberData(nameof(Traces))]
    public void Replay_ThenReopen_KeepsPositionAndDatabase(string trace)
    {
        using var replay = new TraceReplayer(trace);
        replay.Run();
        var last = replay.LastCommitPoint!;
        var expected = new Pos(new TxId(last.TxId), new Checksum(last.Checksum));

        replay.Reopen();

        var db = replay.Db!;
        Assert.Equal(expected, db.Pos);
        Assert.Equal(last.PageCount, db.PageCount);
        var database = SqliteFiles.LogicalDatabase(db.FilePath(DbFileKind.Database), db.FilePath(DbFileKind.Wal));
        Assert.Equal(last.Sha256, System.Security.Cryptography.SHA256.HashData(database));
    }
}
