using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary><c>litefs mount</c> as a process: configuration errors, the exec subprocess, signals and exit codes.</summary>
public class MountCommandTests
{
    [Fact]
    public void Exec_ExitCode_BecomesOurs_AndMountIsRemoved()
    {
        using var temp = new TempDir("litefs-exec");
        using var node = new NodeProcess(temp.Path);
        // The subprocess runs once the node is ready, with the mount usable.
        node.Start("--", "sh", "-c", $"sqlite3 {node.MountPoint}/x.db 'CREATE TABLE t (v); INSERT INTO t VALUES (1);' && exit 3");
        Assert.True(node.Process.WaitForExit(TimeSpan.FromSeconds(60)), "litefs did not exit after its subprocess");
        Assert.Equal(3, node.Process.ExitCode);
        Assert.Contains("subprocess exited with error code 3, litefs shutting down", node.Process.Stdout, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(node.MountPoint));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(node.DataDir, "dbs", "x.db", "ltx"), "*.ltx").Length);
    }

    [Fact]
    public void Exec_ReceivesSigterm_AndLitefsExitsZero()
    {
        using var temp = new TempDir("litefs-exec");
        using var node = new NodeProcess(temp.Path);
        var marker = temp.Combine("got-term");
        node.Start("--", "sh", "-c", $"trap 'touch {marker}; exit 0' TERM; echo child-ready; while true; do sleep 0.1; done");
        node.Process.WaitForOutput("child-ready", TimeSpan.FromSeconds(30));
        Assert.Equal(0, node.Stop());
        Assert.True(File.Exists(marker), "the subprocess did not receive SIGTERM");
        Assert.False(Mounts.IsMounted(node.MountPoint));
    }

    [Fact]
    public void ExecFromConfig_ShellWords_AreSplitLikeAShell()
    {
        using var temp = new TempDir("litefs-exec");
        var output = temp.Combine("args");
        var script = temp.Combine("args.sh");
        File.WriteAllText(script, $"printf '%s|' \"$@\" > {output}\n");
        // The config text is environment-expanded, so the command itself holds no '$'.
        using var node = new NodeProcess(temp.Path, $"exec: \"sh {script} 'a b' c\"");
        node.Start();
        Assert.True(node.Process.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, node.Process.ExitCode);
        Assert.Equal("a b|c|", File.ReadAllText(output));
    }

    [Fact]
    public void FatalRecordingError_NodeUnmountsAndExits99_TheTransactionStaysInTheWal()
    {
        using var temp = new TempDir("litefs-fatal");
        using var node = new NodeProcess(temp.Path);
        node.Start();
        // One connection held open keeps the WAL (the last connection to close checkpoints it away).
        var connection = Sql.Open(Path.Combine(node.MountPoint, "x.db"));
        Sql.Exec(connection, "PRAGMA journal_mode=WAL; CREATE TABLE t (v);");
        // Reading the position records what SQLite has committed so far; otherwise the CREATE TABLE
        // could still be waiting to be recorded when the ltx directory goes, and the node would stop
        // on it before the INSERT below.
        Assert.StartsWith("0000000000000002/", File.ReadAllText(Path.Combine(node.MountPoint, "x.db-pos")), StringComparison.Ordinal);
        var wal = Path.Combine(node.DataDir, "dbs", "x.db", "wal");
        var walBefore = new FileInfo(wal).Length;
        var ltx = Path.Combine(node.DataDir, "dbs", "x.db", "ltx");
        // The node can no longer record: SQLite's next commit is acknowledged (it is in the WAL),
        // but its LTX file cannot be written.
        Directory.Move(ltx, ltx + ".moved");
        File.WriteAllText(ltx, "not a directory");
        Sql.Exec(connection, "INSERT INTO t VALUES ('acknowledged');");
        // Closing tries a checkpoint, which the stopped node refuses (the WAL stays); an open file
        // would keep the detached mount's connection alive until it is closed.
        connection.Dispose();

        Assert.True(node.Process.WaitForExit(TimeSpan.FromSeconds(60)), "litefs did not stop after a fatal error");
        Assert.Equal(99, node.Process.ExitCode);
        Assert.Contains("cannot commit WAL transaction", node.Process.Stderr, StringComparison.Ordinal);
        Assert.Contains("litefs shutting down (exit status 99)", node.Process.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(node.MountPoint), "the mount was left behind");
        // Nothing was rolled back or truncated: the WAL still holds the acknowledged transaction.
        Assert.True(new FileInfo(wal).Length > walBefore, "the WAL lost the acknowledged transaction");
    }

    [Fact]
    public void NoExec_RunsUntilSigterm()
    {
        using var temp = new TempDir("litefs-exec");
        using var node = new NodeProcess(temp.Path);
        node.Start();
        Assert.True(Mounts.IsMounted(node.MountPoint));
        Assert.Equal("+000000000\n", File.ReadAllText(Path.Combine(node.MountPoint, ".lag")));
        Assert.Equal(0, node.Stop());
        Assert.False(Mounts.IsMounted(node.MountPoint));
    }

    [Fact]
    public void SkipUnmount_KeepsAStaleMount_WithoutIt_TheStaleMountIsDetached()
    {
        using var temp = new TempDir("litefs-stale");
        using var node = new NodeProcess(temp.Path);
        node.Start();
        node.Kill();
        Assert.True(Mounts.IsMounted(node.MountPoint), "a killed node leaves its mount behind");

        var (code, stdout, stderr) = LiteFsCommand.Run("mount", "-config", node.ConfigPath, "-skip-unmount");
        Assert.Equal(1, code);
        Assert.Contains($"ERROR: cannot mount on {node.MountPoint}: a stale FUSE mount is there", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("http server listening", stdout, StringComparison.Ordinal);
        Assert.True(Mounts.IsMounted(node.MountPoint));

        using var restarted = new NodeProcess(temp.Path);
        restarted.Start();
        Assert.Equal(0, restarted.Stop());
        Assert.False(Mounts.IsMounted(node.MountPoint));
    }

    [Theory]
    [InlineData("lease:\n  type: \"static\"\n  candidat: true\n", "unknown key \"lease.candidat\"", "litefs.yml:3")]
    [InlineData("lease:\n  type: \"static\"\ndata:\n  retention: \"10 minutes\"\n", "data.retention", "litefs.yml:4")]
    [InlineData("lease:\n  type: \"zookeeper\"\n", "invalid lease type", "litefs.yml:2")]
    [InlineData("lease:\n  type: \"static\"\nhttp:\n  addr: \"127.0.0.1:99999\"\n", "invalid http.addr", "litefs.yml:4")]
    [InlineData("lease:\n  type: \"static\"\n\tcandidate: true\n", "invalid tab as indentation", "litefs.yml:3")]
    [InlineData("lease:\n  type: \"static\"\n  advertise-url: \"primary:20202\"\n", "lease.advertise-url: invalid URL", "litefs.yml:3")]
    [InlineData("lease:\n  type: \"static\"\nproxy:\n  addr: \"8080\"\n  target: \"localhost:8081\"\n  db: \"app.db\"\n", "proxy.addr: invalid address", "litefs.yml:4")]
    [InlineData("lease:\n  type: \"static\"\nproxy:\n  addr: \":8080\"\n  target: \"localhost:8081\"\n", "proxy database name required", "litefs.yml:5")]
    [InlineData("lease:\n  type: \"static\"\nproxy:\n  addr: \":8080\"\n  target: \"http://localhost:8081\"\n  db: \"app.db\"\n", "proxy.target: invalid target", "litefs.yml:5")]
    [InlineData("lease:\n  type: \"static\"\nexec:\n  - cmd: \"echo 'unterminated\"\n", "exec[0].cmd: invalid command line string", "litefs.yml:4")]
    public void BadConfig_ExitsTwo_NamingKeyAndLine(string yaml, string text, string? line)
    {
        using var temp = new TempDir("litefs-config");
        var config = temp.Combine("litefs.yml");
        File.WriteAllText(config, yaml);
        var (code, _, stderr) = LiteFsCommand.Run("mount", "-config", config);
        Assert.Equal(2, code);
        Assert.Contains(text, stderr, StringComparison.Ordinal);
        if (line is not null)
        {
            Assert.Contains(line, stderr, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(temp.Combine("mnt")));
    }

    [Fact]
    public void Version_PrintsOneLine()
    {
        var (code, stdout, _) = LiteFsCommand.Run("version");
        Assert.Equal(0, code);
        Assert.StartsWith("LiteFS", stdout, StringComparison.Ordinal);
    }
}
