namespace LiteFs.TraceRecorder;

/// <summary>One SQL step of a workload, and whether it commits a write transaction.</summary>
internal sealed record Step(string Sql, bool Commits);

/// <summary>A named sequence of SQL steps run on one connection (<see cref="Workloads.Reopen"/> closes it).</summary>
internal sealed record Workload(string Name, Step[] Steps);

/// <summary>
/// The recorded workloads: one per journal mode, each with multi-page transactions, a rollback,
/// growth, a shrinking VACUUM and a reopened connection; WAL ones also checkpoint, restart the
/// WAL and truncate it. Rows are text that compresses well, so the traces stay small.
/// </summary>
internal static class Workloads
{
    /// <summary>Not SQL: closes the connection (the next step opens a new one).</summary>
    public const string Reopen = "-- reopen";

    private const string Rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {0}) INSERT INTO t(v) SELECT printf('%0{1}d', i) FROM n";

    private static string Insert(int rows, int width) => string.Format(System.Globalization.CultureInfo.InvariantCulture, Rows, rows, width);

    public static Workload[] All { get; } =
    [
        Rollback("delete", "DELETE", 1024),
        Rollback("persist", "PERSIST", 1024),
        Rollback("truncate", "TRUNCATE", 4096),
        Wal("wal-normal", "NORMAL", 1024),
        Wal("wal-full", "FULL", 4096),
    ];

    private static Workload Rollback(string name, string mode, int pageSize) => new(name,
    [
        new($"PRAGMA page_size={pageSize}; PRAGMA journal_mode={mode}", false),
        new("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", true),
        new("INSERT INTO t(v) VALUES ('one')", true),
        new(Insert(40, 200), true),
        new("BEGIN; UPDATE t SET v = 'x' WHERE id < 20; ROLLBACK", false),
        new("UPDATE t SET v = upper(v) || 'y' WHERE id % 3 = 0", true),
        new("DELETE FROM t WHERE id > 10", true),
        new("VACUUM", true),
        new(Insert(60, 300), true),
        new(Reopen, false),
        new("INSERT INTO t(v) VALUES ('after reopen')", true),
    ]);

    private static Workload Wal(string name, string synchronous, int pageSize) => new(name,
    [
        new($"PRAGMA page_size={pageSize}", false),
        new("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", true),
        new("PRAGMA journal_mode=WAL", true),
        new($"PRAGMA synchronous={synchronous}", false),
        new("INSERT INTO t(v) VALUES ('one')", true),
        new(Insert(40, 200), true),
        new("BEGIN; UPDATE t SET v = 'x' WHERE id < 20; ROLLBACK", false),
        new("PRAGMA wal_checkpoint(PASSIVE)", false),
        new("INSERT INTO t(v) VALUES ('after checkpoint: the WAL restarts')", true),
        new("DELETE FROM t WHERE id > 10", true),
        new("VACUUM", true),
        new(Insert(60, 300), true),
        new("PRAGMA wal_checkpoint(TRUNCATE)", false),
        new("UPDATE t SET v = upper(v) || 'y' WHERE id % 3 = 0", true),
        new(Reopen, false),
        new("INSERT INTO t(v) VALUES ('after reopen')", true),
    ]);
}
