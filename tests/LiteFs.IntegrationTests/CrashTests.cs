using LiteFs.TestKit;
using Microsoft.Data.Sqlite;

namespace LiteFs.IntegrationTests;

/// <summary>SIGKILL at random moments of a write load: nothing SQLite acknowledged is lost, and the LTX history stays exact.</summary>
public class CrashTests
{
    private const int Rounds = 20;

    [Fact]
    public void KillNode_DuringWrites_LosesNothingAcknowledged()
    {
        using var temp = new TempDir("litefs-crash");
        using var node = new NodeProcess(temp.Path);
        var db = Path.Combine(node.MountPoint, "crash.db");
        var random = new Random(20);
        var acknowledged = new List<long>();
        long next = 1;
        for (var round = 0; round < Rounds; round++)
        {
            node.Start();
            var mode = round % 2 == 0 ? "WAL" : "DELETE";
            if (round > 0)
            {
                AssertAcknowledgedPresent(db, acknowledged);
            }
            using var killed = new ManualResetEventSlim();
            using var timer = new Timer(_ =>
            {
                // A timer callback that throws ends the test host: the round's own failure, if
                // any, is what the test reports.
                try
                {
                    node.Kill();
                }
#pragma warning disable CA1031
                catch (Exception)
#pragma warning restore CA1031
                {
                }
                try
                {
                    killed.Set();
                }
                catch (ObjectDisposedException)
                {
                    // The round already ended with an exception.
                }
            }, null, random.Next(100, 800), Timeout.Infinite);
            try
            {
                // A dead mount makes SQLite retry its locks as if busy: give up quickly.
                using var connection = Sql.Open(db, timeoutSeconds: 2);
                Sql.Exec(connection, $"PRAGMA journal_mode = {mode}");
                Sql.Exec(connection, "PRAGMA synchronous = FULL");
                Sql.Exec(connection, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)");
                while (!killed.IsSet)
                {
                    using var command = connection.CreateCommand();
                    command.CommandText = "INSERT INTO t (id, v) VALUES ($id, randomblob(500))";
                    command.Parameters.AddWithValue("$id", next);
                    command.ExecuteNonQuery();
                    acknowledged.Add(next++);
                }
            }
            catch (SqliteException)
            {
                // The node died under the connection: the statement in flight was not acknowledged.
                next++;
            }
            killed.Wait();
        }
        node.Start();
        AssertAcknowledgedPresent(db, acknowledged);
        AssertHistoryExact(node, "crash.db");
        Assert.Equal(0, node.Stop());
    }

    [Fact]
    public void KillWriter_DuringWrites_LeavesConsistentDatabase()
    {
        using var temp = new TempDir("litefs-crash");
        using var node = new NodeProcess(temp.Path);
        node.Start();
        var db = Path.Combine(node.MountPoint, "writer.db");
        Sql.Cli(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);");
        var random = new Random(7);
        for (var round = 0; round < Rounds; round++)
        {
            var mode = round % 2 == 0 ? "WAL" : "TRUNCATE";
            var script = $"PRAGMA journal_mode={mode};\n" + string.Concat(Enumerable.Range(0, 400).Select(i =>
                $"BEGIN; INSERT INTO t (v) VALUES (randomblob({random.Next(100, 5000)})); UPDATE t SET v = randomblob(50) WHERE id % 13 = {i % 13}; COMMIT;\n"));
            using var writer = ChildProcess.Start("sqlite3", [db]);
            writer.WriteStdin(script);
            Thread.Sleep(random.Next(20, 300));
            writer.Signal(9);
            writer.WaitForExit(TimeSpan.FromSeconds(30));
        }
        // The next connection rolls back whatever the killed writers left, through the mount.
        Assert.Equal("ok\n", Sql.Cli(db, "PRAGMA integrity_check;"));
        AssertHistoryExact(node, "writer.db");
        Assert.Equal(0, node.Stop());
    }

    private static void AssertAcknowledgedPresent(string db, List<long> acknowledged)
    {
        using var connection = Sql.Open(db);
        Assert.Equal("ok", Sql.Scalar(connection, "PRAGMA integrity_check"));
        if (acknowledged.Count == 0)
        {
            // The first kill landed before CREATE TABLE committed: there is no table yet, and nothing to find.
            return;
        }
        var present = new HashSet<long>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT id FROM t";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetInt64(0));
            }
        }
        var lost = acknowledged.Where(id => !present.Contains(id)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged rows lost, first {string.Join(",", lost.Take(5))}");
    }

    /// <summary>With every connection closed: the LTX chain rebuilds the database and the position matches.</summary>
    private static void AssertHistoryExact(NodeProcess node, string name)
    {
        var dir = Path.Combine(node.DataDir, "dbs", name);
        // The history starts at its newest snapshot (TXID 1 to N): a node that found its database
        // past the history at start-up recorded it as a new snapshot and kept the older files.
        var all = Directory.GetFiles(Path.Combine(dir, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        var snapshot = all.Where(f => Path.GetFileName(f).StartsWith("0000000000000001-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Last();
        var files = all.Where(f => f == snapshot || string.CompareOrdinal(Path.GetFileName(f)[..16], Path.GetFileName(snapshot)[17..33]) > 0).ToArray();
        using var temp = new TempDir();
        var rebuilt = temp.Combine("rebuilt");
        using (var handle = File.OpenHandle(rebuilt, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            var applier = new Ltx.LtxApplier(handle, rebuilt);
            foreach (var file in files)
            {
                using var stream = File.OpenRead(file);
                applier.Apply(stream, file);
            }
            Assert.Equal(applier.Position + "\n", File.ReadAllText(Path.Combine(node.MountPoint, name + "-pos")));
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "database")), File.ReadAllBytes(rebuilt));
    }
}
