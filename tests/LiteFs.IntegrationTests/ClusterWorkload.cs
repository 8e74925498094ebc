using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A background writer on the primary for fault tests: each transaction inserts exactly
/// <see cref="RowsPerTransaction"/> rows carrying the same transaction number (<c>txno</c>),
/// and every few transactions also deletes a whole older group or rewrites one, so pages are
/// freed and reused while every group stays complete. A reader on a replica can therefore
/// detect a half-applied transaction (<see cref="AtomicityReader"/>). The writer stops at its
/// first error (a killed primary), remembering it.
/// </summary>
internal sealed class WriteLoad : IDisposable
{
    public const int RowsPerTransaction = 10;

    /// <summary>The table every group lives in.</summary>
    public const string Schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, txno INTEGER NOT NULL, v BLOB NOT NULL); CREATE INDEX t_txno ON t (txno);";

    private readonly string _path;
    private readonly string _journalMode;
    private readonly int _pauseMs;
    private readonly Random _random;
    private readonly HashSet<long> _present = [];
    private readonly object _lock = new();
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _next;
    private int _committed;

    /// <summary>Starts writing to <paramref name="path"/> (a database with <see cref="Schema"/>) from transaction number <paramref name="firstTxNo"/>.</summary>
    public WriteLoad(string path, string journalMode, long firstTxNo = 1, int pauseMs = 5, int seed = 1)
    {
        _path = path;
        _journalMode = journalMode;
        _pauseMs = pauseMs;
        _random = new Random(seed);
        _next = firstTxNo;
        _thread = new Thread(Run) { IsBackground = true, Name = "cluster write load" };
        _thread.Start();
    }

    /// <summary>Transactions committed (acknowledged by SQLite) so far.</summary>
    public int Committed => Volatile.Read(ref _committed);

    /// <summary>The next transaction number this writer would use.</summary>
    public long NextTxNo => Interlocked.Read(ref _next);

    /// <summary>The error that stopped the writer, if any.</summary>
    public Exception? Error { get; private set; }

    /// <summary>The groups that must exist after the acknowledged transactions.</summary>
    public IReadOnlyCollection<long> Present
    {
        get
        {
            lock (_lock)
            {
                return [.. _present];
            }
        }
    }

    /// <summary>Polls until at least <paramref name="count"/> transactions committed; fails when the writer died or time ran out.</summary>
    public void WaitForCommitted(int count, Cluster cluster, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Cluster.CatchUpTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (Committed < count)
        {
            if (Error is not null || !_thread.IsAlive)
            {
                cluster.Fail($"the writer stopped after {Committed} transactions (waiting for {count}): {Error}");
            }
            if (DateTime.UtcNow >= deadline)
            {
                cluster.Fail($"the writer committed only {Committed} of {count} transactions within {limit.TotalSeconds} s");
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>Waits until the writer stopped on its own (after an error); false on timeout.</summary>
    public bool WaitStopped(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>Stops the writer and waits for it; returns the committed count.</summary>
    public int Stop()
    {
        _stop = true;
        if (!_thread.Join(TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException("the writer did not stop within 60 s");
        }
        return Committed;
    }

    private void Run()
    {
        try
        {
            // A dead mount makes SQLite retry its locks as if busy: a short timeout ends the writer soon after a kill.
            using var connection = Sql.Open(_path, timeoutSeconds: 5);
            Sql.Exec(connection, $"PRAGMA journal_mode = {_journalMode}");
            while (!_stop)
            {
                var txno = _next;
                long? deleted = null;
                using (var tx = connection.BeginTransaction())
                {
                    for (var i = 0; i < RowsPerTransaction; i++)
                    {
                        using var insert = connection.CreateCommand();
                        insert.Transaction = tx;
                        insert.CommandText = "INSERT INTO t (txno, v) VALUES ($txno, randomblob($size))";
                        insert.Parameters.AddWithValue("$txno", txno);
                        insert.Parameters.AddWithValue("$size", _random.Next(50, 1500));
                        insert.ExecuteNonQuery();
                    }
                    var old = OldGroup();
                    if (old is { } group && txno % 5 == 0)
                    {
                        using var delete = connection.CreateCommand();
                        delete.Transaction = tx;
                        delete.CommandText = "DELETE FROM t WHERE txno = $txno";
                        delete.Parameters.AddWithValue("$txno", group);
                        delete.ExecuteNonQuery();
                        deleted = group;
                    }
                    else if (old is { } other && txno % 3 == 0)
                    {
                        using var update = connection.CreateCommand();
                        update.Transaction = tx;
                        update.CommandText = "UPDATE t SET v = randomblob($size) WHERE txno = $txno";
                        update.Parameters.AddWithValue("$txno", other);
                        update.Parameters.AddWithValue("$size", _random.Next(50, 3000));
                        update.ExecuteNonQuery();
                    }
                    Interlocked.Increment(ref _next);
                    tx.Commit();
                }
                lock (_lock)
                {
                    _present.Add(txno);
                    if (deleted is { } gone)
                    {
                        _present.Remove(gone);
                    }
                }
                Interlocked.Increment(ref _committed);
                if (_pauseMs > 0)
                {
                    Thread.Sleep(_pauseMs);
                }
            }
        }
#pragma warning disable CA1031 // Whatever ends the writer is reported by the test, not by a crash of the test host.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Error = ex;
        }
    }

    private long? OldGroup()
    {
        lock (_lock)
        {
            return _present.Count < 4 ? null : _present.ElementAt(_random.Next(_present.Count / 2));
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(60));
    }
}

/// <summary>
/// A background reader on a replica's mount (read-only connection) that checks, in every read
/// transaction, that each transaction group of <see cref="WriteLoad"/> is complete: a replica
/// must never show a half-applied transaction. Reopens its connection after an error.
/// </summary>
internal sealed class AtomicityReader : IDisposable
{
    private readonly string _path;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private volatile bool _stop;
    private int _reads;

    public AtomicityReader(string path)
    {
        _path = path;
        _thread = new Thread(Run) { IsBackground = true, Name = "cluster atomicity reader" };
        _thread.Start();
    }

    /// <summary>Read transactions checked so far.</summary>
    public int Reads => Volatile.Read(ref _reads);

    /// <summary>Stops the reader; returns what it saw.</summary>
    public (int Reads, IReadOnlyList<string> Violations, IReadOnlyList<string> Errors) Stop()
    {
        _stop = true;
        if (!_thread.Join(TimeSpan.FromSeconds(60)))
        {
            throw new TimeoutException("the replica reader did not stop within 60 s");
        }
        return (Reads, _violations.ToList(), _errors.ToList());
    }

    /// <summary>
    /// Fails the test (with the cluster's output) on any violation or error (a read that gave up
    /// waiting for a lock included: a replica holds its write lock only while it applies a file
    /// it already received), or when nothing was read.
    /// </summary>
    public void AssertClean(Cluster cluster, string replicaName)
    {
        var (reads, violations, errors) = Stop();
        if (violations.Count > 0)
        {
            cluster.Fail($"{replicaName} showed half-applied transactions in {violations.Count} of {reads} reads: {string.Join("; ", violations.Take(5))}");
        }
        if (errors.Count > 0)
        {
            cluster.Fail($"reads on {replicaName} failed {errors.Count} times ({reads} succeeded): {string.Join("; ", errors.Distinct().Take(5))}");
        }
        if (reads == 0)
        {
            cluster.Fail($"the reader on {replicaName} never completed a read");
        }
    }

    private void Run()
    {
        while (!_stop)
        {
            try
            {
                using var connection = Sql.OpenReadOnly(_path, timeoutSeconds: 30);
                // A replica holds its write lock while it receives a file, so a stream stalled
                // mid-file blocks readers until the replica gives up on it (10 s): this reader
                // checks atomicity, not latency, and waits longer than that.
                Sql.Exec(connection, "PRAGMA busy_timeout = 30000");
                while (!_stop)
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = $"SELECT txno, count(*) FROM t GROUP BY txno HAVING count(*) <> {WriteLoad.RowsPerTransaction} LIMIT 5";
                    using (var reader = command.ExecuteReader())
                    {
                        var bad = new List<string>();
                        while (reader.Read())
                        {
                            bad.Add($"txno {reader.GetInt64(0)} has {reader.GetInt64(1)} rows");
                        }
                        if (bad.Count > 0)
                        {
                            _violations.Enqueue(string.Join(", ", bad));
                        }
                    }
                    Interlocked.Increment(ref _reads);
                    Thread.Sleep(10);
                }
            }
            catch (SqliteException ex)
            {
                _errors.Enqueue($"{ex.SqliteErrorCode}/{ex.SqliteExtendedErrorCode}: {ex.Message}");
                Thread.Sleep(50);
            }
#pragma warning disable CA1031 // Reported by AssertClean, not by a crash of the test host.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _errors.Enqueue($"{ex.GetType().Name}: {ex.Message}");
                Thread.Sleep(50);
            }
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(60));
    }
}
