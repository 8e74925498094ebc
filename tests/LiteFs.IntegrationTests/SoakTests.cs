using System.Globalization;
using LiteFs.Ltx;
using LiteFs.TestKit;
using Xunit.Abstractions;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A bounded soak: a primary and two replicas, each replica behind a fault proxy, under a writer,
/// while a seeded random schedule SIGKILLs any node (and starts it again), cuts and partitions
/// the replicas' links, and fills any node's data directory (a small file system of its own) for
/// a moment before freeing it again. At the end nothing the writer was told is committed may be missing, every
/// database passes <c>integrity_check</c>, every node holds the same bytes at the same position,
/// and that position's checksum is the database file's.
/// </summary>
[Trait("Duration", "Long")]
public sealed class SoakTests(ITestOutputHelper output)
{
    private const string Db = "soak.db";

    /// <summary>Each node's data directory: room for the run, and little enough to fill in a moment.</summary>
    private const long DiskSize = 256L << 20;

    /// <summary>How long the faults go on; <c>LITEFS_SOAK_SECONDS</c> runs it longer on demand.</summary>
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("LITEFS_SOAK_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 30);

    [Theory]
    [InlineData("WAL", 1)]
    [InlineData("DELETE", 2)]
    public void KillsAndCutsUnderAWriter_NothingAcknowledgedLost_AllNodesIdentical(string journalMode, int seed)
    {
        using var cluster = new Cluster(replicas: 2, new ClusterOptions { Proxies = true });
        var disks = new Dictionary<ClusterNode, SmallDisk>();
        try
        {
            foreach (var node in cluster.Nodes)
            {
                disks[node] = SmallDisk.Mount(node.DataDir, DiskSize);
            }
            Run(cluster, disks, journalMode, seed);
        }
        finally
        {
            foreach (var disk in disks.Values)
            {
                disk.Dispose();
            }
        }
    }

    private void Run(Cluster cluster, Dictionary<ClusterNode, SmallDisk> disks, string journalMode, int seed)
    {
        cluster.Start();
        Sql.Cli(cluster.Primary.Path(Db), $"PRAGMA journal_mode={journalMode}; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);");
        cluster.WaitCaughtUp(Db);

        var random = new Random(seed);
        var log = new List<string>();
        using (var writer = Writer.Start(cluster.Primary.Path(Db)))
        {
            var deadline = DateTime.UtcNow + Duration;
            while (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(random.Next(300, 1200));
                var node = cluster.Nodes.ElementAt(random.Next(3));
                switch (random.Next(5))
                {
                    case 0:
                    case 1:
                        log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} kill {node.Name}");
                        node.Kill();
                        Thread.Sleep(random.Next(100, 1500));
                        node.Start();
                        break;
                    case 3:
                        log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} fill {node.Name}");
                        disks[node].Fill();
                        Thread.Sleep(random.Next(300, 2000));
                        disks[node].Free();
                        break;
                    case 2 when node != cluster.Primary:
                        log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} cut {node.Name}");
                        cluster.ProxyOf(node).Cut();
                        break;
                    default:
                        var link = random.Next(cluster.Proxies.Count);
                        var proxy = cluster.Proxies[link];
                        log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} partition {cluster.Replicas[link].Name}");
                        proxy.Partitioned = true;
                        Thread.Sleep(random.Next(200, 2000));
                        proxy.Partitioned = false;
                        break;
                }
            }
            writer.Stop();
            var acknowledged = writer.Acknowledged;
            if (acknowledged.Count < 50)
            {
                cluster.Fail($"the writer had only {acknowledged.Count} transactions acknowledged in {Duration.TotalSeconds} s; faults: {string.Join(", ", log)}");
            }

            var pos = cluster.AssertIdentical(Db);
            var rows = Sql.Cli(cluster.Primary.Path(Db), "SELECT id FROM t ORDER BY id;")
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToHashSet();
            var missing = acknowledged.Where(id => !rows.Contains(id)).ToList();
            if (missing.Count > 0)
            {
                cluster.Fail($"{missing.Count} of {acknowledged.Count} acknowledged rows are missing (first: {string.Join(", ", missing.Take(10))}); faults: {string.Join(", ", log)}");
            }
            foreach (var node in cluster.Nodes)
            {
                Assert.Equal("ok", Sql.Cli(node.Path(Db), "PRAGMA integrity_check;").Trim());
                Assert.Equal(pos, node.ReadPos(Db));
                using (var file = File.OpenRead(node.DbFile(Db)))
                {
                    Assert.Equal(pos[17..], SqliteDatabase.ComputeChecksum(file).ToString());
                }
            }
            output.WriteLine($"{journalMode}: {acknowledged.Count} acknowledged transactions, {rows.Count} rows, position {pos}, {log.Count} faults: {string.Join(", ", log)}");
        }
    }

    /// <summary>
    /// The writer: a shell loop in a process of its own (a killed node's mount must not take the
    /// test host down with it) running one sqlite3 INSERT per transaction, printing each id whose
    /// INSERT sqlite3 reported committed.
    /// </summary>
    private sealed class Writer : IDisposable
    {
        private readonly ChildProcess _process;
        private readonly string _stopFile;

        private Writer(ChildProcess process, string stopFile)
        {
            _process = process;
            _stopFile = stopFile;
        }

        public static Writer Start(string path)
        {
            // Stops by itself between transactions once the stop file exists: no sqlite3 is left
            // running on its own.
            const string Script = """
                i=0
                while [ ! -e "$2" ]; do
                  i=$((i+1))
                  if sqlite3 -cmd ".timeout 2000" "$1" "INSERT INTO t (id, v) VALUES ($i, randomblob(300 + $i % 3000));" >/dev/null 2>&1; then
                    echo "$i"
                  else
                    sleep 0.05
                  fi
                done
                """;
            var stopFile = System.IO.Path.GetTempFileName();
            File.Delete(stopFile);
            return new Writer(ChildProcess.Start("bash", ["-c", Script, "writer", path, stopFile]), stopFile);
        }

        /// <summary>The ids whose INSERT was acknowledged (complete lines only).</summary>
        public IReadOnlyList<long> Acknowledged
        {
            get
            {
                var text = _process.Stdout;
                var complete = text[..(text.LastIndexOf('\n') + 1)];
                return complete.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l, CultureInfo.InvariantCulture)).ToList();
            }
        }

        /// <summary>Asks the loop to stop after its current transaction and waits for it.</summary>
        public void Stop()
        {
            File.WriteAllText(_stopFile, "");
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException($"the writer (pid {_process.Pid}) did not stop within 30 s");
            }
        }

        public void Dispose()
        {
            File.WriteAllText(_stopFile, "");
            _process.Dispose();
            File.Delete(_stopFile);
        }
    }
}
