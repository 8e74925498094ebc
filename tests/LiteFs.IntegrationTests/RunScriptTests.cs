using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>The README's main command works and stops cleanly on Ctrl-C.</summary>
public class RunScriptTests
{
    [Fact]
    public void RunSh_StartsNode_ServesSqlite_AndUnmountsOnSigint()
    {
        using var temp = new TempDir("litefs-run");
        var mount = temp.Combine("mnt");
        using var run = ChildProcess.Start(Path.Combine(RepoPaths.Root, "run.sh"), [], new Dictionary<string, string> { ["LITEFS_DEV_DIR"] = temp.Path });
        try
        {
            run.WaitForOutput("LiteFS mounted to", TimeSpan.FromMinutes(5));
            Assert.Equal("hello\n", Sql.Cli(Path.Combine(mount, "app.db"), "CREATE TABLE t (v); INSERT INTO t VALUES ('hello'); SELECT * FROM t;"));
            Assert.StartsWith("0000000000000002/", File.ReadAllText(Path.Combine(mount, "app.db-pos")), StringComparison.Ordinal);
            run.Signal(2);
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(30)), "run.sh did not stop on SIGINT");
            Assert.Equal(0, run.ExitCode);
            Assert.False(Mounts.IsMounted(mount));
        }
        finally
        {
            if (Mounts.IsMounted(mount))
            {
                Mounts.ForceDetach(mount);
            }
        }
    }
}
