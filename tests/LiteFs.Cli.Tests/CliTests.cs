using System.Diagnostics;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Cli.Tests;

public class CliTests
{
    /// <summary>Runs the command in process, or the release executable under test when <c>$LITEFS_BIN</c> names one.</summary>
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        if (LiteFsCommand.NativeBinary is not null)
        {
            return LiteFsCommand.Run(args);
        }
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var code = CommandLine.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public static TheoryData<string> DumpedFiles()
    {
        var data = new TheoryData<string>();
        foreach (var dump in Directory.EnumerateFiles(RepoPaths.Golden, "*.ltx.dump.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(RepoPaths.Golden, dump[..^".dump.txt".Length]));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(DumpedFiles))]
    public void LtxDump_EqualsUpstreamDump(string relative)
    {
        var path = Path.Combine(RepoPaths.Golden, relative);
        var (code, output, err) = Run("ltx", "dump", path);
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllText(path + ".dump.txt"), output);
    }

    [Theory]
    [InlineData("wal-4096")]
    [InlineData("delete-1024")]
    [InlineData("persist-truncate/persist.db")]
    public void LtxList_EqualsUpstreamList(string scenario)
    {
        var dir = Path.Combine(RepoPaths.Golden, scenario);
        var files = Directory.GetFiles(Path.Combine(dir, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        var (code, output, err) = Run(["ltx", "list", .. files]);
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "ltx-list.txt")), output);
    }

    [Fact]
    public void LtxVerify_GoodFiles_OneLineEachExitZero()
    {
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Golden, "wal-4096", "ltx"), "*.ltx");
        var (code, output, _) = Run(["ltx", "verify", .. files]);
        Assert.Equal(0, code);
        Assert.Equal(files.Length, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.All(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains(": ok (", line, StringComparison.Ordinal));
    }

    [Fact]
    public void LtxVerify_OneBadFile_ReportsItAndExitsOne()
    {
        using var temp = new TempDir();
        var good = Directory.GetFiles(Path.Combine(RepoPaths.Golden, "delete-1024", "ltx"), "*.ltx").Order(StringComparer.Ordinal).First();
        var bad = temp.Combine("bad.ltx");
        var bytes = File.ReadAllBytes(good);
        bytes[8] = 0x12; // page size field
        File.WriteAllBytes(bad, bytes);
        var (code, output, err) = Run("ltx", "verify", good, bad, temp.Combine("missing.ltx"));
        Assert.Equal(1, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains(": ok (", lines[0], StringComparison.Ordinal);
        Assert.Contains("bad.ltx: FAILED: invalid LTX file: header.PageSize at offset 8", lines[1], StringComparison.Ordinal);
        Assert.Contains("missing.ltx: FAILED:", lines[2], StringComparison.Ordinal);
        Assert.Contains("2 of 3", err, StringComparison.Ordinal);
    }

    [Fact]
    public void LtxChecksum_PrintsUpstreamValue()
    {
        var (code, output, _) = Run("ltx", "checksum", Path.Combine(RepoPaths.Golden, "delete-1024", "database"));
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Golden, "delete-1024", "checksum.txt")), output);
    }

    [Fact]
    public void LtxChecksum_NotADatabase_ExplainsWhy()
    {
        var (code, _, err) = Run("ltx", "checksum", Path.Combine(RepoPaths.UpstreamTests, "store/open-invalid-database-header/dbs/test.db/database"));
        Assert.Equal(1, code);
        Assert.Contains("is not a SQLite database", err, StringComparison.Ordinal);
    }

    [Fact]
    public void LtxApply_Chain_PrintsFinalPositionAndBuildsDatabase()
    {
        using var temp = new TempDir();
        var db = temp.Combine("out.db");
        var dir = Path.Combine(RepoPaths.Golden, "wal-4096");
        var files = Directory.GetFiles(Path.Combine(dir, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        var (code, output, err) = Run(["ltx", "apply", "-o", db, .. files]);
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "pos.txt")), output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "database")), File.ReadAllBytes(db));
    }

    [Fact]
    public void LtxApply_WrongOrder_StopsAndSaysWhere()
    {
        using var temp = new TempDir();
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Golden, "wal-4096", "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        var (code, _, err) = Run("ltx", "apply", "-o", temp.Combine("out.db"), files[0], files[2]);
        Assert.Equal(1, code);
        Assert.Contains("applies at position", err, StringComparison.Ordinal);
        Assert.Contains("is at position 0000000000000001/ce1969f21a78f3f9", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LtxEncodeDb_WritesVerifiableSnapshot(bool compress)
    {
        using var temp = new TempDir();
        var output = temp.Combine("snap.ltx");
        var db = Path.Combine(RepoPaths.Golden, "delete-1024", "database");
        string[] args = ["ltx", "encode-db", db, "-o", output, "-txid", "5", .. compress ? new[] { "-compress" } : []];
        var (code, _, err) = Run(args);
        Assert.True(code == 0, err);
        using var file = File.OpenRead(output);
        var (header, trailer, pages) = LtxDecoder.Verify(file);
        Assert.Equal((compress, 5ul, 2), (header.IsCompressed, header.MaxTxId.Value, pages));
        Assert.Equal("e415b20785273d2a", trailer.PostApplyChecksum.ToString());
        Assert.False(File.Exists(output + ".tmp"));
    }

    [Theory]
    [InlineData("ltx", "frobnicate")]
    [InlineData("ltx", "apply", "x.ltx")]
    [InlineData("ltx", "encode-db", "db")]
    [InlineData("ltx", "dump")]
    [InlineData("ltx", "dump", "-bogus", "x")]
    [InlineData("ltx", "encode-db", "db", "-o", "x", "-txid", "twelve")]
    [InlineData("nonsense")]
    [InlineData("recover")]
    [InlineData("recover", "app.db")]
    public void UsageErrors_ExitTwo(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(CommandLine.UsageError, code);
        Assert.False(string.IsNullOrWhiteSpace(err));
    }

    /// <summary>A data directory with the golden delete-1024 database at TXID 5 and its LTX files 2 to 5, and a litefs.yml for it.</summary>
    private static string RecoverFixture(TempDir temp)
    {
        var golden = Path.Combine(RepoPaths.Golden, "delete-1024");
        var dir = temp.Combine("data", "dbs", "app.db");
        Directory.CreateDirectory(Path.Combine(dir, "ltx"));
        File.Copy(Path.Combine(golden, "states", "txid-5.database"), Path.Combine(dir, "database"));
        for (var i = 2; i <= 5; i++)
        {
            var name = $"{i:x16}-{i:x16}.ltx";
            File.Copy(Path.Combine(golden, "ltx", name), Path.Combine(dir, "ltx", name));
        }
        foreach (var file in Directory.EnumerateFiles(temp.Path, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }
        var config = temp.Combine("litefs.yml");
        File.WriteAllText(config, $"""
            fuse:
              dir: "{temp.Combine("mnt")}"
            data:
              dir: "{temp.Combine("data")}"
            lease:
              type: "static"
              candidate: true
              advertise-url: "http://127.0.0.1:20202"
            """);
        return config;
    }

    [Fact]
    public void Recover_Database_MakesNewHistoryAfterItsLastTxId()
    {
        using var temp = new TempDir();
        var config = RecoverFixture(temp);
        var (code, output, err) = Run("recover", "-name", "app.db", "-config", config);
        Assert.True(code == 0, err);
        Assert.Contains("database app.db: new history from a snapshot of the database at position 0000000000000006/e415b20785273d2a", output, StringComparison.Ordinal);
        Assert.Contains("previous LTX files kept in " + temp.Combine("data", "dbs", "app.db", "ltx.replaced."), output, StringComparison.Ordinal);
        var ltx = temp.Combine("data", "dbs", "app.db", "ltx");
        Assert.Equal(["0000000000000001-0000000000000006.ltx"], Directory.GetFiles(ltx, "*.ltx").Select(Path.GetFileName));
    }

    [Fact]
    public void Recover_DatabaseNotSqlite_RefusesWithTheReason()
    {
        using var temp = new TempDir();
        var config = RecoverFixture(temp);
        var database = temp.Combine("data", "dbs", "app.db", "database");
        File.WriteAllBytes(database, File.ReadAllBytes(database)[..50]);
        var (code, _, err) = Run("recover", "-name", "app.db", "-config", config);
        Assert.Equal(1, code);
        Assert.Contains($"ERROR: {database} is missing, empty or not a SQLite database", err, StringComparison.Ordinal);
        Assert.Equal(4, Directory.GetFiles(temp.Combine("data", "dbs", "app.db", "ltx"), "*.ltx").Length);
    }

    [Theory]
    [InlineData(1795488374328, "2026-11-24T02:46:14.328Z")]
    [InlineData(1795488374310, "2026-11-24T02:46:14.31Z")]
    [InlineData(1795488374300, "2026-11-24T02:46:14.3Z")]
    [InlineData(1795488374000, "2026-11-24T02:46:14Z")]
    [InlineData(1795488360000, "2026-11-24T02:46:00Z")]
    public void DumpTimestamp_DropsTrailingZerosLikeUpstream(long millis, string text) => Assert.Equal(text, LtxText.FormatMillis(millis));

    [Fact]
    public void Version_PrintsCompatibility()
    {
        var (code, output, _) = Run("version");
        Assert.Equal(0, code);
        Assert.Contains("LiteFS v0.5.14", output, StringComparison.Ordinal);
        if (Directory.Exists(Path.Combine(RepoPaths.Root, ".git")))
        {
            // Built from a git checkout: the build names its commit.
            Assert.Matches(@"^LiteFS for \.NET [0-9][^ ]*, commit [0-9a-f]{40} \(", output);
        }
    }

    [Theory]
    [InlineData("1.2.3+0123abcd", "LiteFS for .NET 1.2.3, commit 0123abcd (compatible with LiteFS v0.5.14, LTX v0.3.14)")]
    [InlineData("1.2.3", "LiteFS for .NET 1.2.3 (compatible with LiteFS v0.5.14, LTX v0.3.14)")]
    [InlineData(null, "LiteFS for .NET unknown (compatible with LiteFS v0.5.14, LTX v0.3.14)")]
    public void FormatVersion_NamesTheCommitWhenKnown(string? informational, string text) =>
        Assert.Equal(text, CommandLine.FormatVersion(informational));

    [Fact]
    public void RootScript_BuildsAndRunsTheCli()
    {
        var psi = new ProcessStartInfo(Path.Combine(RepoPaths.Root, "litefs"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "ltx", "checksum", Path.Combine(RepoPaths.Golden, "wal-4096", "database") })
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        var err = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "./litefs did not finish");
        Assert.True(process.ExitCode == 0, err);
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Golden, "wal-4096", "checksum.txt")), output);
    }
}
