using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>
/// Replica readers with open connections, reading as fast as they can, while a writer on the
/// primary commits a thousand and more multi-page transactions: no read transaction may
/// ever see half of one. Each transaction moves an amount between two accounts in one table and
/// records the move in another (with a blob of a few pages, so a transaction spans many pages of
/// both tables and of their indexes); every read checks, inside one read transaction, that the
/// accounts still sum to zero and that the moves recorded add up to the accounts' balances. Run
/// in DELETE and WAL mode. Readers that never pause must not hold the replica's apply off either:
/// the writer's last transaction reaches the replica while they read.
/// </summary>
[Collection("cluster")]
[Trait("Duration", "Long")]
public class ReplicaReadAtomicityTests
{
    private const string Db = "bank.db";
    private const int Readers = 3;
    private const int MinTransactions = 300;
    private static readonly TimeSpan WriteFor = TimeSpan.FromSeconds(12);

    /// <summary>One read transaction: every invariant, checked against one snapshot of the database.</summary>
    private const string Check = "SELECT (SELECT total(balance) FROM account), " +
        "(SELECT count(*) FROM account a WHERE a.balance <> (SELECT total(amount) FROM move WHERE dst = a.id) - (SELECT total(amount) FROM move WHERE src = a.id)), " +
        "(SELECT count(*) FROM move);";

    [Theory]
    [InlineData("DELETE")]
    [InlineData("WAL")]
    public void ReaderProcesses_DuringManyMultiPageTransactions_NeverSeeHalfOfOne(string journalMode)
    {
        // One sqlite3 process per reader, its connection open for the whole run: a reader with an
        // open connection must see each transaction whole on its next read transaction.
        using var cluster = Start(journalMode);
        RunWith(cluster, path => new ProcessReader(path));
    }

    /// <summary>
    /// Threads of one process share its POSIX locks: SQLite takes a lock from the system for the
    /// first of them and gives it back after the last, so threads that read without pause keep
    /// the process's WAL read mark held between them, and the node cannot wait for it to drain.
    /// In WAL mode the node holds them off through the SHM header. (In rollback mode the SHARED
    /// lock stays held the same way and the apply waits for a pause, as a writer in another
    /// process would: see docs/ARCHITECTURE.md.)
    /// </summary>
    [Fact]
    public void ReaderThreadsOfOneProcess_WalReplica_ApplyKeepsUpAndNoneSeesHalfATransaction()
    {
        using var cluster = Start("WAL");
        RunWith(cluster, path => new ConnectionReader(path));
    }

    /// <summary>Runs the writer against <see cref="Readers"/> readers opened on the replica; disposes them whatever happens.</summary>
    private static void RunWith(Cluster cluster, Func<string, IReplicaReader> open)
    {
        var readers = new List<IReplicaReader>();
        try
        {
            for (var i = 0; i < Readers; i++)
            {
                readers.Add(open(cluster.Replicas[0].Path(Db)));
            }
            Run(cluster, readers);
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }
    }

    private static Cluster Start(string journalMode)
    {
        var cluster = new Cluster(replicas: 1);
        try
        {
            cluster.Start();
            Sql.Cli(cluster.Primary.Path(Db), $"""
                PRAGMA journal_mode = {journalMode};
                CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
                CREATE TABLE move (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL, memo BLOB NOT NULL);
                CREATE INDEX move_src ON move (src);
                CREATE INDEX move_dst ON move (dst);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO account SELECT i, 0 FROM n;
                """);
            cluster.WaitCaughtUp(Db);
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    private static void Run(Cluster cluster, List<IReplicaReader> replicaReaders)
    {
        var stop = new CancellationTokenSource();
        var violations = new ConcurrentQueue<string>();
        var errors = new ConcurrentQueue<string>();
        var reads = 0;
        var readers = replicaReaders.Select(reader => new Thread(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (reader.Read() is not { } line)
                    {
                        errors.Enqueue($"reader ended: {reader.Finish()}");
                        return;
                    }
                    var fields = line.Split('|');
                    var sum = double.Parse(fields[0], CultureInfo.InvariantCulture);
                    var unbalanced = long.Parse(fields[1], CultureInfo.InvariantCulture);
                    if (sum != 0 || unbalanced != 0)
                    {
                        violations.Enqueue($"after {fields[2]} moves: balances sum to {fields[0]}, {unbalanced} accounts disagree with their moves");
                    }
                    Interlocked.Increment(ref reads);
                }
                if (reader.Finish() is { Length: > 0 } rest)
                {
                    errors.Enqueue(rest);
                }
            }
            catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or SqliteException or ObjectDisposedException or InvalidOperationException)
            {
                errors.Enqueue($"reader: {ex.Message}");
            }
        })
        { IsBackground = true, Name = "replica reader" }).ToList();
        readers.ForEach(t => t.Start());
        try
        {
            Write(cluster, stop, violations, errors, ref reads, readers);
        }
        finally
        {
            // Whatever happened, no reader runs on once the test disposes them.
            stop.Cancel();
            readers.ForEach(t => t.Join(TimeSpan.FromSeconds(60)));
        }
    }

    private static void Write(Cluster cluster, CancellationTokenSource stop, ConcurrentQueue<string> violations, ConcurrentQueue<string> errors, ref int reads, List<Thread> readers)
    {

        var committed = 0;
        using (var writer = Sql.Open(cluster.Primary.Path(Db)))
        {
            var random = new Random(13);
            // At least WriteFor and at least MinTransactions (a slow machine commits fewer per second).
            var until = DateTime.UtcNow + WriteFor;
            var limit = DateTime.UtcNow + 5 * WriteFor;
            while ((DateTime.UtcNow < until || committed < MinTransactions) && DateTime.UtcNow < limit)
            {
                using var tx = writer.BeginTransaction();
                for (var m = 0; m < 3; m++)
                {
                    var (src, dst, amount) = (random.Next(1, 201), random.Next(1, 201), random.Next(1, 1000));
                    using var command = writer.CreateCommand();
                    command.Transaction = tx;
                    command.CommandText = """
                        UPDATE account SET balance = balance - $amount WHERE id = $src;
                        UPDATE account SET balance = balance + $amount WHERE id = $dst;
                        INSERT INTO move (src, dst, amount, memo) VALUES ($src, $dst, $amount, randomblob($size));
                        """;
                    command.Parameters.AddWithValue("$src", src);
                    command.Parameters.AddWithValue("$dst", dst);
                    command.Parameters.AddWithValue("$amount", amount);
                    command.Parameters.AddWithValue("$size", random.Next(2000, 9000));
                    command.ExecuteNonQuery();
                }
                // Every few transactions old moves go (their amounts folded into a fresh move of
                // the same pair), so pages are freed and reused while the invariant holds.
                if (committed % 7 == 6)
                {
                    using var fold = writer.CreateCommand();
                    fold.Transaction = tx;
                    fold.CommandText = """
                        INSERT INTO move (src, dst, amount, memo)
                          SELECT src, dst, sum(amount), x'' FROM move WHERE id IN (SELECT id FROM move ORDER BY id LIMIT 20) GROUP BY src, dst;
                        DELETE FROM move WHERE id IN (SELECT id FROM move ORDER BY id LIMIT 20);
                        """;
                    fold.ExecuteNonQuery();
                }
                tx.Commit();
                committed++;
                // A short pause: the replica applies each transaction under its write lock, which
                // it shares with readers that never pause, so it applies fewer per second than an
                // unhindered primary commits; the pause keeps the backlog it catches up on small.
                Thread.Sleep(2);
            }
        }
        cluster.WaitCaughtUp(Db, TimeSpan.FromSeconds(90));
        stop.Cancel();
        foreach (var reader in readers)
        {
            Assert.True(reader.Join(TimeSpan.FromSeconds(60)), "a replica reader did not stop within 60 s");
        }

        if (!violations.IsEmpty)
        {
            cluster.Fail($"{violations.Count} of {reads} reads on the replica saw half a transaction ({committed} committed): {string.Join("; ", violations.Take(5))}");
        }
        if (!errors.IsEmpty)
        {
            cluster.Fail($"replica readers failed: {string.Join("; ", errors.Distinct().Take(5))}");
        }
        Assert.True(committed >= MinTransactions, $"only {committed} transactions committed in {5 * WriteFor.TotalSeconds} s");
        Assert.True(reads >= 100, $"only {reads} reads completed on the replica");
        cluster.AssertIdentical(Db);
    }

    /// <summary>One reader with an open connection to the replica's database.</summary>
    private interface IReplicaReader : IDisposable
    {
        /// <summary>One read transaction of <see cref="Check"/>: "sum|unbalanced|moves", or null if the reader ended.</summary>
        string? Read();

        /// <summary>Ends the reader; returns what it reported on the way (empty if nothing).</summary>
        string Finish();
    }

    /// <summary>A sqlite3 process. With -bail an error ends it, so no read waits for output that went to stderr.</summary>
    private sealed class ProcessReader : IReplicaReader
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _stderr = new();

        public ProcessReader(string path)
        {
            _process = Process.Start(new ProcessStartInfo("sqlite3", ["-readonly", "-batch", "-bail", "-cmd", ".timeout 30000", path])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line)
                {
                    _stderr.Enqueue(line);
                }
            };
            _process.BeginErrorReadLine();
        }

        public string? Read()
        {
            _process.StandardInput.WriteLine(Check);
            _process.StandardInput.Flush();
            return _process.StandardOutput.ReadLine();
        }

        public string Finish()
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
            }
            var exited = _process.WaitForExit(10_000);
            return (exited ? "" : "sqlite3 did not exit within 10 s of its input's end; ") + string.Join(" ", _stderr);
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }

    /// <summary>A read-only Microsoft.Data.Sqlite connection in a thread of the test's own process.</summary>
    private sealed class ConnectionReader : IReplicaReader
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand _command;

        public ConnectionReader(string path)
        {
            _connection = Sql.OpenReadOnly(path);
            Sql.Exec(_connection, "PRAGMA busy_timeout = 30000");
            _command = _connection.CreateCommand();
            _command.CommandText = Check;
        }

        public string? Read()
        {
            using var result = _command.ExecuteReader();
            result.Read();
            return string.Create(CultureInfo.InvariantCulture, $"{result.GetDouble(0)}|{result.GetInt64(1)}|{result.GetInt64(2)}");
        }

        public string Finish() => "";

        public void Dispose()
        {
            _command.Dispose();
            _connection.Dispose();
        }
    }
}
