using System.Diagnostics;
using LiteFs.TestKit;
using Xunit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// An application that keeps trying to write on a replica (each attempt a new connection, as a
/// web application's request would open one) while the replica applies the primary's
/// transactions: the replica refuses every write, and neither side waits on the other for long.
/// (A connection whose WAL write failed keeps SQLite's WAL write lock while it retries its read
/// locks; an apply that held the read locks while it waited for that lock deadlocked with it
/// until SQLite gave up with SQLITE_PROTOCOL after 10 s.)
/// </summary>
[Collection("cluster")]
public sealed class ReplicaWriteAttemptTests
{
    private const string Db = "app.db";

    [Fact]
    public void WritesRefusedOnAReplica_WhileItApplies_NeitherStalls()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var replica = cluster.Replicas[0];
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode = WAL; {WriteLoad.Schema}");
        cluster.WaitCaughtUp(Db);
        using var writer = new WriteLoad(cluster.Primary.Path(Db), "WAL", pauseMs: 1);
        var longest = TimeSpan.Zero;
        var attempts = 0;
        var accepted = 0;
        var signalled = 0;
        var outcomes = new Dictionary<string, int>();
        var until = Stopwatch.StartNew();
        while (until.Elapsed < TimeSpan.FromSeconds(20))
        {
            var started = Stopwatch.GetTimestamp();
            string outcome;
            // Each attempt in a sqlite3 process of its own: what happens to the application
            // (an error, or a signal) is seen without risking the test host.
            var (code, _, stderr) = ChildProcess.Run("sqlite3", ["-bail", "-cmd", ".timeout 100", replica.Path(Db)],
                stdin: "INSERT INTO t (txno, v) VALUES (-1, x'00');", timeout: TimeSpan.FromMinutes(1));
            if (code == 0)
            {
                outcome = "accepted";
                accepted++;
            }
            else
            {
                outcome = code > 128 ? $"killed by signal {code - 128}" : stderr.Trim();
                signalled += code > 128 ? 1 : 0;
            }
            attempts++;
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            var took = Stopwatch.GetElapsedTime(started);
            if (took > longest)
            {
                longest = took;
            }
        }
        writer.Stop();
        var summary = string.Join("; ", outcomes.Select(o => $"{o.Value}× {o.Key}"));
        Assert.True(signalled == 0, $"{signalled} of {attempts} sqlite3 processes writing on the replica were killed by a signal: {summary}\n{cluster.Describe()}");
        Assert.True(accepted == 0, $"the replica accepted {accepted} of {attempts} writes: {summary}");
        Assert.True(attempts >= 100, $"only {attempts} write attempts in 20 s: {summary}");
        Assert.True(longest < TimeSpan.FromSeconds(5), $"a write attempt on the replica took {longest.TotalSeconds:0.0} s ({attempts} attempts: {summary})\n{cluster.Describe()}");
        cluster.WaitCaughtUp(Db, TimeSpan.FromSeconds(30));
    }
}
