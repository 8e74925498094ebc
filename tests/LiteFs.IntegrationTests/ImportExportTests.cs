using System.Net;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary><c>litefs import</c> and <c>litefs export</c> against a real cluster.</summary>
[Collection("cluster")]
public class ImportExportTests
{
    /// <summary>A SQLite file made with the sqlite3 tool outside any mount: <paramref name="rows"/> rows of 1 KiB.</summary>
    private static string MakeDatabase(string dir, int rows)
    {
        var path = Path.Combine(dir, "source.db");
        Sql.Cli(path, $"CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO big(b) SELECT randomblob(1024) FROM n;");
        return path;
    }

    [Fact]
    public void Import_SentToAReplica_ReachesEveryNodeAndExportGivesItBack()
    {
        using var cluster = new Cluster(replicas: 2);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE old (v TEXT); INSERT INTO old VALUES ('replaced');");
        var before = cluster.WaitCaughtUp("app.db");
        var source = MakeDatabase(cluster.Primary.Root, rows: 50_000); // about 60 MiB

        // Sent to a replica, which passes it on to the primary.
        var (code, stdout, stderr) = LiteFsCommand.Run("import", "-url", cluster.Replicas[0].Url, "-name", "app.db", source);

        Assert.True(code == 0, $"import exited {code}: {stderr}\n{cluster.Primary.Describe(20)}");
        Assert.Matches("^Import of database \"app.db\" in [0-9.]+(ms|s)\n$", stdout);
        var pos = cluster.WaitCaughtUp("app.db");
        Assert.Equal(Cluster.TxIdOf(before) + 1, Cluster.TxIdOf(pos));
        // Every node holds the imported file, byte for byte but the change counter and schema
        // cookie the import zeroes so open connections reload.
        var expected = File.ReadAllBytes(source);
        Array.Clear(expected, 24, 4);
        Array.Clear(expected, 40, 4);
        foreach (var node in new[] { cluster.Primary }.Concat(cluster.Replicas))
        {
            Assert.Equal("50000\n", Sql.Cli(node.Path("app.db"), "SELECT count(*) FROM big;"));
            Assert.Equal("ok\n", Sql.Cli(node.Path("app.db"), "PRAGMA integrity_check;"));
            Assert.True(expected.AsSpan().SequenceEqual(File.ReadAllBytes(node.DbFile("app.db"))), $"{node.Name}'s database differs from the imported file");
        }

        // Export from a replica: a standalone file whose checksum is the node's position.
        var exported = Path.Combine(cluster.Primary.Root, "exported.db");
        File.WriteAllText(exported + "-journal", "stale");
        var export = LiteFsCommand.Run("export", "-url", cluster.Replicas[1].Url, "-name", "app.db", exported);
        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.Matches("^Export of database \"app.db\" in [0-9.]+(ms|s)\n$", export.Stdout);
        Assert.False(File.Exists(exported + "-journal"));
        Assert.Equal(pos.Split('/')[1].TrimEnd('\n'), SqliteFiles.ChecksumOf(File.ReadAllBytes(exported)).ToString());
        Assert.Equal("50000\n", Sql.Cli(exported, "SELECT count(*) FROM big;"));
    }

    [Fact]
    public async Task Import_NotADatabaseOrCutShort_RefusedAndNothingReplaced()
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        Sql.Cli(cluster.Primary.Path("app.db"), "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('still here');");
        var before = cluster.WaitCaughtUp("app.db");
        var text = Path.Combine(cluster.Primary.Root, "notes.txt");
        File.WriteAllText(text, new string('x', 8192));

        // The command checks before it uploads.
        var (code, _, stderr) = LiteFsCommand.Run("import", "-url", cluster.Primary.Url, "-name", "app.db", text);
        Assert.Equal(1, code);
        Assert.Equal($"ERROR: cannot import {text}: not a SQLite database (no \"SQLite format 3\" header)\n", stderr);

        // The primary checks too, whatever the client: a database cut short is refused with the reason.
        var source = MakeDatabase(cluster.Primary.Root, rows: 2_000);
        var cut = File.ReadAllBytes(source).AsSpan(0, 4096 * 100).ToArray();
        using var http = new HttpClient();
        using var response = await http.PostAsync($"{cluster.Primary.Url}/import?name=app.db", new ByteArrayContent(cut));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("cannot import app.db: its header says", body, StringComparison.Ordinal);
        Assert.Contains("nothing was replaced", body, StringComparison.Ordinal);

        Assert.Equal(before, cluster.WaitCaughtUp("app.db"));
        Assert.Equal("still here\n", Sql.Cli(cluster.Replicas[0].Path("app.db"), "SELECT v FROM kept;"));
        Assert.Empty(Directory.GetFiles(cluster.Primary.LtxDir("app.db"), ".recv.*"));

        // Through a replica, the primary's refusal comes back as it is.
        using var viaReplica = await http.PostAsync($"{cluster.Replicas[0].Url}/import?name=app.db", new ByteArrayContent(cut));
        Assert.Equal(HttpStatusCode.BadRequest, viaReplica.StatusCode);
        Assert.Contains("cannot import app.db: its header says", await viaReplica.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, cluster.WaitCaughtUp("app.db"));
    }

    [Fact]
    public void Export_UnknownDatabase_SaysSo()
    {
        using var cluster = new Cluster(replicas: 0);
        cluster.Start();
        var (code, _, stderr) = LiteFsCommand.Run("export", "-url", cluster.Primary.Url, "-name", "nope.db", Path.Combine(cluster.Primary.Root, "out.db"));
        Assert.Equal(1, code);
        Assert.Equal("ERROR: database not found\n", stderr);
        Assert.False(File.Exists(Path.Combine(cluster.Primary.Root, "out.db.tmp")));
    }
}
