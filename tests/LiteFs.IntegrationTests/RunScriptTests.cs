using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>The README's main command works: a local cluster that replicates, and stops cleanly on Ctrl-C.</summary>
public class RunScriptTests
{
    [Fact]
    public void RunSh_StartsCluster_ReplicatesWrites_AndUnmountsOnSigint()
    {
        using var temp = new TempDir("litefs-run");
        var mounts = new[] { "primary", "replica1", "replica2" }.Select(n => temp.Combine(n, "mnt")).ToArray();
        var port = FreePortBlock();
        // Through env --default-signal: a test run started as a background job inherits SIGINT
        // ignored, and a shell cannot trap a signal ignored when it started; a terminal's Ctrl-C
        // reaches run.sh with the default disposition.
        using var run = ChildProcess.Start("env", ["--default-signal=INT", Path.Combine(RepoPaths.Root, "run.sh")], new Dictionary<string, string>
        {
            ["LITEFS_DEV_DIR"] = temp.Path,
            ["LITEFS_DEV_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        try
        {
            run.WaitForOutput("LiteFS cluster ready", TimeSpan.FromMinutes(5));
            Assert.Equal("hello\n", Sql.Cli(Path.Combine(mounts[0], "app.db"), "CREATE TABLE t (v); INSERT INTO t VALUES ('hello'); SELECT * FROM t;"));
            var primaryPos = File.ReadAllText(Path.Combine(mounts[0], "app.db-pos"));
            Assert.StartsWith("0000000000000002/", primaryPos, StringComparison.Ordinal);
            foreach (var replica in mounts[1..])
            {
                WaitUntil(() => File.Exists(Path.Combine(replica, "app.db-pos")) && File.ReadAllText(Path.Combine(replica, "app.db-pos")) == primaryPos, run);
                Assert.Equal("hello\n", Sql.Cli(Path.Combine(replica, "app.db"), "SELECT * FROM t;"));
            }
            run.Signal(2);
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), "run.sh did not stop on SIGINT\n" + run.Stdout + run.Stderr);
            Assert.Equal(0, run.ExitCode);
            foreach (var mount in mounts)
            {
                Assert.False(Mounts.IsMounted(mount), mount + " is still mounted");
            }
        }
        finally
        {
            foreach (var mount in mounts)
            {
                if (Mounts.IsMounted(mount))
                {
                    Mounts.ForceDetach(mount);
                }
            }
        }
    }

    private static void WaitUntil(Func<bool> condition, ChildProcess run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "replica did not catch up\n" + run.Stdout + run.Stderr);
            Thread.Sleep(50);
        }
    }

    /// <summary>A port such that it and the next two are free on 127.0.0.1 (the script's primary and replicas).</summary>
    private static int FreePortBlock()
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var listeners = new List<System.Net.Sockets.TcpListener>();
            try
            {
                var first = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
                first.Start();
                listeners.Add(first);
                var port = ((System.Net.IPEndPoint)first.LocalEndpoint).Port;
                if (port > 65000)
                {
                    continue;
                }
                for (var i = 1; i <= 2; i++)
                {
                    var next = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port + i);
                    next.Start();
                    listeners.Add(next);
                }
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
            }
            finally
            {
                listeners.ForEach(l => l.Stop());
            }
        }
        throw new InvalidOperationException("no block of three free ports on 127.0.0.1");
    }
}
