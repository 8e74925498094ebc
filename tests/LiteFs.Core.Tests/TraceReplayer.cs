using System.IO.Hashing;
using System.Security.Cryptography;
using LiteFs.Core.Locking;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>
/// Replays a recorded SQLite trace against a store's <see cref="Db"/> with the calls
/// LiteFs.FileSystem makes for each file operation (RootNode for create and unlink, DbFileNode for
/// the rest), and at each commit point checks what the node recorded: the new LTX files, the
/// position, and that the LTX files applied from scratch give the database SQLite produced.
/// </summary>
internal sealed class TraceReplayer : IDisposable
{
    /// <summary>How long a commit point waits for the committer to record a WAL transaction.</summary>
    private static readonly TimeSpan CommitterTimeout = TimeSpan.FromSeconds(5);

    private const int OTrunc = 0x200;
    private const int EAgain = 11;
    private const int ENoEnt = 2;

    private readonly TempDir _dir = new("litefs-replay");
    private readonly SqliteTrace _trace;
    private readonly string _name;
    private readonly bool _walPassthrough;
    private readonly object _gate = new();
    private readonly HashSet<string> _seenLtx = new(StringComparer.Ordinal);
    private ulong _recordedTxId; // guarded by _gate: the highest TXID the store announced
    private Db? _db;
    private int _commitPoints;

    /// <param name="name">The trace.</param>
    /// <param name="walPassthrough">
    /// Writes to the WAL go straight to the file, as the kernel writes them when the node hands
    /// it the WAL's descriptor (FUSE passthrough): the node never sees the frames, and must find
    /// each commit from SQLite's locks alone.
    /// </param>
    public TraceReplayer(string name, bool walPassthrough = false)
    {
        _name = name;
        _walPassthrough = walPassthrough;
        _trace = SqliteTrace.Load(name);
        Store = Open();
    }

    public Store Store { get; private set; }

    /// <summary>The traced database (null until the trace created it).</summary>
    public Db? Db => _db;

    /// <summary>The last commit point's record.</summary>
    public TraceRecord? LastCommitPoint { get; private set; }

    public string DataDir => _dir.Combine("data");

    /// <summary>Replays the whole trace, checking every commit point.</summary>
    public void Run()
    {
        for (var i = 0; i < _trace.Records.Count; i++)
        {
            var record = _trace.Records[i];
            try
            {
                Apply(record);
            }
            catch (LiteFsException ex)
            {
                Assert.Fail($"{_name}: operation {i} ({record}) failed on replay, but succeeded when recorded: {ex.Message}");
            }
        }
        Assert.True(_commitPoints > 0, $"{_name}: the trace has no commit point");
    }

    /// <summary>Closes the store and opens it again on the same data directory (recovery runs).</summary>
    public void Reopen()
    {
        Store.Dispose();
        Store = Open();
        _db = Store.Find(_trace.Database);
    }

    private Store Open()
    {
        var store = new Store(new StoreOptions
        {
            DataDir = DataDir,
            Lease = new StaticLease(true, "localhost", "http://127.0.0.1:20202"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        store.Transaction += (_, pos) =>
        {
            lock (_gate)
            {
                _recordedTxId = Math.Max(_recordedTxId, pos.TxId.Value);
                Monitor.PulseAll(_gate);
            }
        };
        store.Open();
        return store;
    }

    private void Apply(TraceRecord r)
    {
        switch (r.Op)
        {
            case TraceOp.Create:
                Create(r);
                break;
            case TraceOp.Open:
                var exists = Require().Exists(r.File);
                Assert.True(exists == (r.Status != ENoEnt), $"{_name}: {r}: the file exists on replay: {exists}");
                if (exists && (r.Flags & OTrunc) != 0)
                {
                    Require().Truncate(r.File, 0);
                }
                break;
            case TraceOp.Read:
                var buffer = new byte[r.Length];
                var n = Require().Read(r.File, buffer, r.Offset);
                Assert.True(n == r.End && Crc32.HashToUInt32(buffer.AsSpan(0, n)) == r.Crc,
                    $"{_name}: {r}: replay read {n} bytes (recorded {r.End}) with {(n == r.End ? "other" : "the same or other")} contents");
                break;
            case TraceOp.Write when _walPassthrough && r.File == DbFileKind.Wal:
                using (var wal = File.OpenHandle(Require().FilePath(DbFileKind.Wal), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
                {
                    RandomAccess.Write(wal, r.Data, r.Offset);
                }
                break;
            case TraceOp.Write:
                Require().Write(r.File, r.Data, r.Offset);
                break;
            case TraceOp.Truncate:
                Require().Truncate(r.File, r.Offset);
                break;
            case TraceOp.Sync:
                Require().Sync(r.File);
                break;
            case TraceOp.Release:
                _db?.ReleaseOwner(r.File, r.Owner);
                break;
            case TraceOp.Lock when r.File is DbFileKind.Database or DbFileKind.Shm:
                var result = Require().Lock(r.File, r.Owner, (LockRequest)r.Flags, r.Offset, r.End);
                Assert.True(result == (r.Status == EAgain ? LockResult.WouldBlock : LockResult.Ok), $"{_name}: {r}: replay answered {result}");
                break;
            case TraceOp.QueryLock when r.File is DbFileKind.Database or DbFileKind.Shm:
                var blocker = Require().QueryLock(r.File, r.Owner, (LockRequest)r.Flags, r.Offset, r.End);
                Assert.True((int)(blocker ?? LockRequest.Unlock) == r.Status, $"{_name}: {r}: replay answered {blocker}");
                break;
            case TraceOp.Unlink:
                Unlink(r);
                break;
            case TraceOp.CommitPoint:
                CheckCommitPoint(r);
                break;
        }
    }

    /// <summary>As RootNode.Create: a database is created (or taken over while it has no pages); other files exclusively.</summary>
    private void Create(TraceRecord r)
    {
        if (r.File == DbFileKind.Database)
        {
            _db = Store.GetOrCreate(_trace.Database);
            if (!_db.Exists(DbFileKind.Database))
            {
                _db.Create(DbFileKind.Database);
            }
            return;
        }
        Require().Create(r.File);
    }

    /// <summary>As RootNode.Unlink.</summary>
    private void Unlink(TraceRecord r)
    {
        var db = Require();
        if (r.File == DbFileKind.Database)
        {
            db.Delete();
        }
        else if (db.Exists(r.File))
        {
            db.Unlink(r.File);
        }
        else
        {
            Assert.True(r.Status == ENoEnt, $"{_name}: {r}: the file does not exist on replay");
        }
    }

    private void CheckCommitPoint(TraceRecord r)
    {
        _commitPoints++;
        LastCommitPoint = r;
        var where = $"{_name}, commit point {_commitPoints} (after \"{r.Sql}\")";
        if (r.TxId == 0)
        {
            Assert.True(_db is null || _db.Pos.TxId.Value == 0, $"{where}: nothing was committed yet, but the node is at {_db?.Pos}");
            return;
        }
        var db = Require();

        // First without reading the position (which records pending WAL transactions itself):
        // the commit must have been recorded by the path SQLite's own operations trigger.
        lock (_gate)
        {
            var deadline = DateTime.UtcNow + CommitterTimeout;
            while (_recordedTxId < r.TxId && DateTime.UtcNow < deadline)
            {
                Monitor.Wait(_gate, deadline - DateTime.UtcNow);
            }
            Assert.True(_recordedTxId >= r.TxId, $"{where}: TXID {r.TxId} was not recorded within {CommitterTimeout.TotalSeconds} s of SQLite's commit (last recorded: TXID {_recordedTxId})");
        }
        var added = SqliteFiles.ListLtx(db.LtxDir).Where(f => _seenLtx.Add(Describe(f))).Select(Describe).ToList();
        Assert.True(r.LtxFiles.Select(Describe).SequenceEqual(added),
            $"{where}: new LTX files differ.\nexpected: {string.Join("; ", r.LtxFiles.Select(Describe))}\nactual:   {string.Join("; ", added)}");

        var expectedPos = new Pos(new TxId(r.TxId), new Checksum(r.Checksum));
        Assert.Equal(expectedPos, db.Pos);
        Assert.Equal(r.PageCount, db.PageCount);

        var (applied, appliedPos) = SqliteFiles.ApplyFromScratch(db.LtxDir);
        Assert.Equal(expectedPos, appliedPos);
        Assert.True(SHA256.HashData(applied).AsSpan().SequenceEqual(r.Sha256),
            $"{where}: the LTX files applied from scratch ({applied.Length} bytes) differ from the database SQLite produced ({r.PageCount} pages)");
        Assert.Equal(expectedPos.PostApplyChecksum, SqliteFiles.ChecksumOf(applied));

        // The replay wrote what SQLite wrote: the database its files hold is the recorded one.
        var sqliteView = SqliteFiles.LogicalDatabase(db.FilePath(DbFileKind.Database), db.FilePath(DbFileKind.Wal));
        Assert.True(SHA256.HashData(sqliteView).AsSpan().SequenceEqual(r.Sha256), $"{where}: the replayed files do not hold the recorded database");
    }

    private static string Describe(TraceLtxFile f) =>
        $"{LtxFileName.Format(new TxId(f.MinTxId), new TxId(f.MaxTxId))} commit={f.Commit} pages=[{string.Join(",", f.Pages)}] post={new Checksum(f.PostApplyChecksum)}";

    private Db Require() => _db ?? throw new InvalidOperationException($"{_name}: an operation on the database came before its creation");

    public void Dispose()
    {
        Store.Dispose();
        _dir.Dispose();
    }
}
