using System.Diagnostics;
using System.Globalization;
using LiteFs.TestKit;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>
/// One transaction a node acknowledged: its row, the node, the writer's round (every running node
/// is tried once per round), and when the attempt began and SQLite answered (Stopwatch ticks).
/// </summary>
public sealed record Commit(long Id, string Node, long Round, long Started, long Acknowledged);

/// <summary>
/// A writer for lease tests: inserts numbered rows (one per transaction) into the nodes of a
/// <see cref="LeaseCluster"/> and keeps a record of every transaction a node acknowledged. It
/// writes either to whichever node takes writes (the last that did first), or, with
/// <see cref="EveryNode"/>, to every running node in each round, so a node that accepts a write
/// it should not is caught. Any error (a replica refusing, a node gone) only closes that node's
/// connection; the row is not counted. Each node's connection lives in a <c>sqlite3</c> process of
/// its own (<see cref="Shell"/>): a node the test SIGKILLs takes its mount's mappings with it,
/// and a fault on one (SIGBUS on the SHM mapping) ends that process, not the test host.
/// </summary>
public sealed class LeaseWriter : IDisposable
{
    /// <summary>The table; every row names the node that acknowledged it.</summary>
    public const string Schema = "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, node TEXT NOT NULL, v BLOB NOT NULL);";

    private readonly LeaseCluster _cluster;
    private readonly string _database;
    private readonly Thread _thread;

    // Owned by the writer's thread: each node's connection, with the node's process it was opened
    // under (one opened before the node was killed is on a mount that is gone, where SQLite spins
    // on its locks for 10 s before it reports SQLITE_PROTOCOL).
    private readonly Dictionary<ClusterNode, (Shell Connection, ChildProcess Process)> _connections = [];
    private long _next = 1;
    private long _round;

    // Owned by _lock: the acknowledged commits, in order.
    private readonly Lock _lock = new();
    private readonly List<Commit> _commits = [];

    // Attempts that took more than a second (node, time, outcome), for the test's output.
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _slow = new();

    private volatile bool _stop;
    private volatile bool _paused;
    private volatile bool _idle;

    /// <summary>Starts writing to <paramref name="database"/> (made with <see cref="Schema"/>).</summary>
    public LeaseWriter(LeaseCluster cluster, string database)
    {
        _cluster = cluster;
        _database = database;
        _thread = new Thread(Run) { IsBackground = true, Name = "lease-writer" };
        _thread.Start();
    }

    /// <summary>The acknowledged commits so far, in the order they were acknowledged.</summary>
    public IReadOnlyList<Commit> Commits
    {
        get
        {
            lock (_lock)
            {
                return [.. _commits];
            }
        }
    }

    /// <summary>Stops writing between two transactions and waits until none is in flight.</summary>
    public void Pause()
    {
        _paused = true;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!_idle)
        {
            Assert.True(DateTime.UtcNow < until, "the writer did not pause");
            Thread.Sleep(2);
        }
    }

    /// <summary>Writes again after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        _idle = false;
        _paused = false;
    }

    /// <summary>
    /// Polls until <paramref name="node"/> (or any node but <paramref name="notOn"/>) acknowledged a
    /// commit that began after <paramref name="since"/>; returns the first.
    /// </summary>
    public Commit WaitForCommit(long since, ClusterNode? node = null, TimeSpan? timeout = null, ClusterNode? notOn = null)
    {
        var limit = timeout ?? LeaseCluster.Patience;
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            lock (_lock)
            {
                var found = _commits.FirstOrDefault(c => c.Started >= since && (node is null || c.Node == node.Name) && (notOn is null || c.Node != notOn.Name));
                if (found is not null)
                {
                    return found;
                }
            }
            if (DateTime.UtcNow >= until)
            {
                _cluster.Fail($"no commit{(node is null ? "" : " on " + node.Name)} within {limit.TotalSeconds} s");
            }
            Thread.Sleep(5);
        }
    }

    /// <summary>Takes the notes of attempts that took more than a second since the last call.</summary>
    public List<string> TakeSlowAttempts()
    {
        var taken = new List<string>();
        while (_slow.TryDequeue(out var note))
        {
            taken.Add(note);
        }
        return taken;
    }

    /// <summary>Every acknowledged row must be in the database as <paramref name="node"/> shows it.</summary>
    public void AssertNoneLost(ClusterNode node)
    {
        // The commits first: one acknowledged after the rows were read is not missing.
        var commits = Commits;
        var present = ReadIds(node);
        var lost = commits.Where(c => !present.Contains(c.Id)).ToList();
        if (lost.Count > 0)
        {
            _cluster.Fail($"{lost.Count} acknowledged row(s) missing on {node.Name}: " +
                string.Join(", ", lost.Take(10).Select(c => $"{c.Id} (acknowledged by {c.Node}, round {c.Round}, {Stopwatch.GetElapsedTime(c.Acknowledged).TotalSeconds:0.0} s ago)")));
        }
    }

    /// <summary>The rows' IDs on the node's mount; a failing read is tried again for a few seconds (with the error in the failure).</summary>
    private HashSet<long> ReadIds(ClusterNode node)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                var present = new HashSet<long>();
                // Read-write: a read-only connection cannot open a WAL database whose -wal file is gone.
                using var connection = Sql.Open(node.Path(_database));
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT id FROM t";
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    present.Add(reader.GetInt64(0));
                }
                return present;
            }
            catch (SqliteException ex) when (DateTime.UtcNow < until)
            {
                _slow.Enqueue($"{node.Name}: reading the rows failed: {ex.Message}");
                Thread.Sleep(200);
            }
            catch (SqliteException ex)
            {
                _cluster.Fail($"cannot read the rows on {node.Name}: {ex.Message}");
            }
        }
    }

    private void Run()
    {
        while (!_stop)
        {
            if (_paused)
            {
                _idle = true;
                Thread.Sleep(2);
                continue;
            }
            List<ClusterNode> running;
            try
            {
                running = [.. _cluster.Nodes.Where(n => n.IsRunning)];
            }
            catch (InvalidOperationException)
            {
                // A node's process is being replaced by a restart on the test's thread (its old
                // process object disposed): look again. Unhandled here it would end the test host.
                Thread.Sleep(2);
                continue;
            }
            _round++;
            foreach (var node in running)
            {
                if (_stop || _paused)
                {
                    break;
                }
                TryInsert(node);
            }
            Thread.Sleep(2);
        }
        foreach (var (connection, _) in _connections.Values)
        {
            connection.Dispose();
        }
    }

    private bool TryInsert(ClusterNode node)
    {
        var id = _next++;
        var started = Stopwatch.GetTimestamp();
        ChildProcess process;
        try
        {
            process = node.Process;
        }
        catch (InvalidOperationException)
        {
            // Being restarted on the test's thread (no process object yet): skip it this round.
            // Unhandled here it would end the test host.
            return false;
        }
        if (_connections.TryGetValue(node, out var open) && open.Process != process)
        {
            _connections.Remove(node);
            open.Connection.Dispose();
        }
        if (!_connections.TryGetValue(node, out open))
        {
            open = (new Shell(node.Path(_database)), process);
            _connections[node] = open;
        }
        if (!open.Connection.Insert(id, node.Name, out var error))
        {
            // A refusal or an error ends the shell (-bail); the next attempt starts another.
            _connections.Remove(node);
            open.Connection.Dispose();
            NoteIfSlow(node, started, error);
            return false;
        }
        var acknowledged = Stopwatch.GetTimestamp();
        NoteIfSlow(node, started, "acknowledged");
        lock (_lock)
        {
            _commits.Add(new Commit(id, node.Name, _round, started, acknowledged));
        }
        return true;
    }

    /// <summary>
    /// From the record of commits: no two nodes took writes in two rounds running (the lease can
    /// move between two nodes within one round, never back and forth from one round to the next:
    /// a node that keeps taking writes beside another would), and the nodes that took writes
    /// changed at most <paramref name="maxTerms"/> − 1 times.
    /// </summary>
    public void AssertTermsDoNotOverlap(int maxTerms)
    {
        var commits = Commits;
        var rounds = commits.GroupBy(c => c.Round).ToDictionary(g => g.Key, g => g.Select(c => c.Node).ToHashSet());
        foreach (var (round, nodes) in rounds)
        {
            if (nodes.Count > 1 && rounds.TryGetValue(round + 1, out var next) && next.Intersect(nodes).Count() > 1)
            {
                _cluster.Fail($"two nodes took writes in rounds {round} and {round + 1}: " +
                    DescribeTimes(commits.Where(c => c.Round >= round - 1 && c.Round <= round + 2)));
            }
        }
        var terms = new List<string>();
        foreach (var commit in commits.OrderBy(c => c.Acknowledged))
        {
            if (terms.Count == 0 || terms[^1] != commit.Node)
            {
                terms.Add(commit.Node);
            }
        }
        if (terms.Count > maxTerms)
        {
            _cluster.Fail($"writes were taken in {terms.Count} terms, at most {maxTerms} expected: {string.Join(" -> ", terms)}");
        }
    }

    private void NoteIfSlow(ClusterNode node, long started, string outcome)
    {
        var took = Stopwatch.GetElapsedTime(started);
        if (took > TimeSpan.FromSeconds(1))
        {
            _slow.Enqueue($"{node.Name}: {took.TotalMilliseconds:0} ms, {outcome}");
        }
    }

    /// <summary>The commits with when each attempt began and was acknowledged, in seconds before now (to match with the nodes' logs).</summary>
    private static string DescribeTimes(IEnumerable<Commit> commits) =>
        string.Join(", ", commits.Select(c => string.Create(CultureInfo.InvariantCulture,
            $"{c.Id}@{c.Node} (round {c.Round}, began {Stopwatch.GetElapsedTime(c.Started).TotalSeconds:0.000} s ago, acknowledged {Stopwatch.GetElapsedTime(c.Acknowledged).TotalSeconds:0.000} s ago)")))
        + string.Create(CultureInfo.InvariantCulture, $"; now {DateTime.UtcNow:HH:mm:ss.fff} UTC");

    /// <inheritdoc />
    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// One connection in a <c>sqlite3</c> process (<c>-bail</c>, 100 ms busy timeout: a replica
    /// refuses at once, a primary's own short locks are waited for). A transaction is acknowledged
    /// when the line the shell prints after it arrives: with <c>-bail</c> an error ends the shell
    /// before that line.
    /// </summary>
    internal sealed class Shell : IDisposable
    {
        /// <summary>Past SQLite's 10 s of retrying a lock on a mount whose node is gone.</summary>
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

        private readonly ChildProcess _process;
        private int _seen; // stdout read so far, in characters; the writer's thread

        public Shell(string path)
        {
            _process = ChildProcess.Start("sqlite3", ["-batch", "-bail", "-cmd", ".timeout 100", path]);
        }

        /// <summary>Inserts row <paramref name="id"/> in a transaction of its own; false, with why, unless SQLite acknowledged it.</summary>
        public bool Insert(long id, string node, out string error)
        {
            var ack = string.Create(CultureInfo.InvariantCulture, $"ack {id}\n");
            try
            {
                _process.WriteStdin(string.Create(CultureInfo.InvariantCulture,
                    $"INSERT INTO t (id, node, v) VALUES ({id}, '{node}', randomblob(100));\nSELECT 'ack {id}';\n"));
            }
            catch (IOException ex)
            {
                error = "sqlite3 had exited: " + ex.Message + " " + _process.Stderr.Trim();
                return false;
            }
            var until = DateTime.UtcNow + Patience;
            while (true)
            {
                var stdout = _process.Stdout;
                if (stdout.IndexOf(ack, _seen, StringComparison.Ordinal) is var at and >= 0)
                {
                    _seen = at + ack.Length;
                    error = "";
                    return true;
                }
                if (_process.HasExited)
                {
                    // Its last output drained, the acknowledgement may have come just before the exit.
                    _process.WaitForExit(TimeSpan.FromSeconds(5));
                    error = _process.Stderr.Trim();
                    return _process.Stdout.IndexOf(ack, _seen, StringComparison.Ordinal) >= 0;
                }
                if (DateTime.UtcNow >= until)
                {
                    error = $"no answer from sqlite3 within {Patience.TotalSeconds} s: {_process.Stderr.Trim()}";
                    return false;
                }
                Thread.Sleep(1);
            }
        }

        public void Dispose() => _process.Dispose();
    }
}
