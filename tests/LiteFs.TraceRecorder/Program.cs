using System.Security.Cryptography;
using LiteFs.Core;
using LiteFs.FileSystem;
using LiteFs.Fuse;
using LiteFs.Ltx;
using LiteFs.TestKit;
using LiteFs.TraceRecorder;
using Microsoft.Data.Sqlite;

// Records each workload of Workloads.All through a LiteFS mount (a primary, in this process) and
// writes tests/testdata/sqlite-traces/NAME.trace.gz. Needs root and /dev/fuse. With --dump NAME,
// prints a recorded trace instead.
if (args is ["--dump", var dump])
{
    foreach (var record in SqliteTrace.Load(dump).Records)
    {
        Console.WriteLine(record);
    }
    return 0;
}
var only = args.Length > 0 ? args.ToHashSet(StringComparer.Ordinal) : null;
var output = SqliteTrace.Folder;
Directory.CreateDirectory(output);
foreach (var workload in Workloads.All.Where(w => only is null || only.Contains(w.Name)))
{
    var trace = Record(workload);
    var path = Path.Combine(output, workload.Name + ".trace.gz");
    trace.Save(path);
    var commits = trace.Records.Count(r => r.Op == TraceOp.CommitPoint);
    Console.WriteLine($"{workload.Name}: {trace.Records.Count} operations, {commits} commit points, TXID {trace.Records.Last(r => r.Op == TraceOp.CommitPoint).TxId}, {new FileInfo(path).Length} bytes");
}
return 0;

static SqliteTrace Record(Workload workload)
{
    const string Database = "app.db";
    using var temp = new TempDir("litefs-trace");
    var mountPoint = temp.Combine("mnt");
    Directory.CreateDirectory(mountPoint);
    using var store = new Store(new StoreOptions
    {
        DataDir = temp.Combine("data"),
        Lease = new StaticLease(true, "localhost", "http://127.0.0.1:20202"),
        RetentionMonitorInterval = TimeSpan.Zero,
        OnFatal = ex => throw ex,
    });
    store.Open();
    using var fs = new LiteFsFileSystem(store);
    var recording = new Recording();
    // The mount LiteFsFileSystem.Mount makes, without passthrough: every WAL frame reaches the node.
    var options = new MountOptions
    {
        FsName = "litefs-trace",
        ExceptionMapper = Errors.ToErrno,
        AttributeTimeout = TimeSpan.Zero,
        EntryTimeout = TimeSpan.FromMinutes(1),
        PosixLocks = true,
        Passthrough = false,
    };
    using (FuseMount.Mount(mountPoint, new RecordingRoot(fs.Root, recording), options))
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expectedTxId = 0UL;
        var connectionString = $"Data Source={Path.Combine(mountPoint, Database)};Pooling=False";
        SqliteConnection? connection = null;
        try
        {
            foreach (var step in workload.Steps)
            {
                if (step.Sql == Workloads.Reopen)
                {
                    connection?.Dispose();
                    connection = null;
                }
                else
                {
                    if (connection is null)
                    {
                        connection = new SqliteConnection(connectionString);
                        connection.Open();
                    }
                    using var command = connection.CreateCommand();
                    command.CommandText = step.Sql;
                    command.ExecuteNonQuery();
                }
                expectedTxId += step.Commits ? 1UL : 0UL;
                AddCommitPoint(recording, store.Find(Database), step.Sql, expectedTxId, seen, workload.Name);
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }
    return new SqliteTrace(Database, [.. recording.Records]);
}

/// <summary>
/// Records what the node holds after a SQL step, after checking it independently: the TXID the
/// workload says, and LTX files that, applied from scratch, give the database SQLite sees.
/// </summary>
static void AddCommitPoint(Recording recording, Db? db, string sql, ulong expectedTxId, HashSet<string> seen, string workload)
{
    lock (recording.Sync)
    {
        if (db is null)
        {
            recording.Records.Add(new TraceRecord { Op = TraceOp.CommitPoint, Sql = sql, Sha256 = new byte[32] });
            return;
        }
        var pos = db.Pos;
        var database = SqliteFiles.LogicalDatabase(db.FilePath(DbFileKind.Database), db.FilePath(DbFileKind.Wal));
        var files = SqliteFiles.ListLtx(db.LtxDir);
        var added = files.Where(f => seen.Add(LtxFileName.Format(new TxId(f.MinTxId), new TxId(f.MaxTxId)))).ToList();
        if (pos.TxId.Value != expectedTxId)
        {
            throw new InvalidOperationException($"{workload}: after \"{sql}\" the node is at {pos}, the workload expects TXID {expectedTxId}");
        }
        if (pos.TxId.Value > 0)
        {
            var (applied, appliedPos) = SqliteFiles.ApplyFromScratch(db.LtxDir);
            if (!applied.AsSpan().SequenceEqual(database) || appliedPos != pos || SqliteFiles.ChecksumOf(database) != pos.PostApplyChecksum)
            {
                throw new InvalidOperationException($"{workload}: after \"{sql}\" the LTX files applied from scratch ({appliedPos}) do not give the database SQLite sees (node at {pos})");
            }
        }
        var pageSize = db.PageSize == 0 ? 1 : db.PageSize;
        recording.Records.Add(new TraceRecord
        {
            Op = TraceOp.CommitPoint,
            Sql = sql,
            TxId = pos.TxId.Value,
            Checksum = pos.PostApplyChecksum.Value,
            PageCount = (uint)(database.Length / pageSize),
            Sha256 = SHA256.HashData(database),
            LtxFiles = added,
        });
    }
}
