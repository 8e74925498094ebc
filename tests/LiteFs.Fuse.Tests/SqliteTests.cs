using System.Text;
using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>SQLite on the loopback mount gives the same results as on the bare directory.</summary>
public sealed class SqliteTests
{
    public static TheoryData<string, string> Modes => new()
    {
        { "wal", "NORMAL" },
        { "delete", "FULL" },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void MicrosoftDataSqlite_ThousandsOfTransactions_MatchBareDirectory(string journalMode, string synchronous)
    {
        const int transactions = 2000;
        using var bare = new TempDir("litefs-bare");
        var expected = SqliteWorkload.Run(bare.Path, journalMode, synchronous, transactions);

        string actual;
        string source;
        using (var mount = new LoopbackMount())
        {
            actual = SqliteWorkload.Run(mount.MountPoint, journalMode, synchronous, transactions);
            source = SqliteWorkload.Digest(mount.SourcePath("workload.db"));
            Assert.Equal(0, mount.Mount.OpenHandles);
        }

        Assert.Equal(expected, actual);
        // What reached the mirrored directory is the same database.
        Assert.Equal(expected, source);
    }

    [Theory]
    [InlineData("wal")]
    [InlineData("delete")]
    public void Sqlite3Cli_ScriptedWorkload_DumpEqualsBareDirectory(string journalMode)
    {
        var script = new StringBuilder();
        script.Append(System.Globalization.CultureInfo.InvariantCulture, $"PRAGMA journal_mode={journalMode};\n");
        script.Append("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);\n");
        for (var i = 0; i < 1500; i++)
        {
            script.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"BEGIN; INSERT INTO kv (v) VALUES (printf('%0{10 + (i % 90)}d', {i})); UPDATE kv SET v = v || 'x' WHERE k = {1 + (i * 7 % (i + 1))}; COMMIT;\n");
        }
        script.Append("DELETE FROM kv WHERE k % 5 = 0; VACUUM;\n");
        const string check = "PRAGMA integrity_check;\n.dump\n";

        using var bare = new TempDir("litefs-bare");
        var expected = RunScript(Path.Combine(bare.Path, "cli.db"), script + check);
        using var mount = new LoopbackMount();
        var actual = RunScript(mount.Path("cli.db"), script + check);

        Assert.StartsWith(journalMode + "\nok\n", expected, StringComparison.Ordinal);
        Assert.Equal(expected, actual);
    }

    private static string RunScript(string database, string script)
    {
        var (exitCode, stdout, stderr) = Tools.Sqlite3(database, script);
        Assert.True(exitCode == 0, $"sqlite3 failed on {database}: {stderr}");
        Assert.Equal("", stderr);
        return stdout;
    }
}
