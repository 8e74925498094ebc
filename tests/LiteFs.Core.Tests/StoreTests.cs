using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>Opening data directories, including upstream's store fixtures.</summary>
public class StoreTests
{
    private static Store NewStore(string dataDir, bool primary = true) =>
        new(new StoreOptions
        {
            DataDir = dataDir,
            Lease = new StaticLease(primary, "primary", "http://127.0.0.1:20202"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            File.Copy(file, target);
            File.SetAttributes(target, FileAttributes.Normal);
        }
    }

    [Theory]
    [InlineData("open-name-only")]
    [InlineData("open-invalid-database-header")]
    [InlineData("open-short-database")]
    public void Open_FixtureWithoutLtx_IsAtZeroPosition(string fixture)
    {
        using var temp = new TempDir();
        CopyDirectory(Path.Combine(RepoPaths.UpstreamTests, "store", fixture), temp.Path);
        using var store = NewStore(temp.Path);
        store.Open();
        var db = Assert.Single(store.Databases);
        Assert.Equal("test.db", db.Name);
        Assert.Equal(Pos.Zero, db.Pos);
        Assert.NotNull(store.GetOrCreate("other.db"));
    }

    [Fact]
    public void Open_FixtureWithLtx_RecoversPositionFromNewestFile()
    {
        using var temp = new TempDir();
        CopyDirectory(Path.Combine(RepoPaths.UpstreamTests, "store", "open-and-write-snapshot"), temp.Path);
        using var store = NewStore(temp.Path);
        store.Open();
        var db = store.Find("sqlite.db")!;
        Assert.Equal("000000000000000d/fe3831a381c602b9", db.Pos.ToString());
        Assert.Equal(4096, db.PageSize);
        Assert.Equal(10u, db.PageCount);
        Assert.Equal(db.Pos.PostApplyChecksum, db.ComputeChecksum());
        Assert.True(File.Exists(db.FilePath(DbFileKind.Shm)), "applying the newest file at start-up rewrites the SHM");
    }

    [Fact]
    public void Open_CreatesClusterIdAndKeepsIt()
    {
        using var temp = new TempDir();
        string first;
        using (var store = NewStore(temp.Path))
        {
            store.Open();
            first = store.ClusterId!;
            Assert.True(Store.IsValidClusterId(first));
        }
        using var again = NewStore(temp.Path);
        again.Open();
        Assert.Equal(first, again.ClusterId);
        Assert.Equal(first + "\n", File.ReadAllText(Path.Combine(temp.Path, "clusterid")));
    }

    [Fact]
    public void Open_BadClusterId_FailsClearly()
    {
        using var temp = new TempDir();
        File.WriteAllText(Path.Combine(temp.Path, "clusterid"), "nonsense\n");
        using var store = NewStore(temp.Path);
        Assert.Contains("invalid cluster id", Assert.Throws<LiteFsException>(store.Open).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_GoldenWalScenario_ReappliesNewestFile()
    {
        using var temp = new TempDir();
        var dir = Path.Combine(temp.Path, "dbs", "wal4096.db");
        Directory.CreateDirectory(Path.Combine(dir, "ltx"));
        var golden = Path.Combine(RepoPaths.Golden, "wal-4096");
        File.Copy(Path.Combine(golden, "database"), Path.Combine(dir, "database"));
        foreach (var ltx in Directory.GetFiles(Path.Combine(golden, "ltx"), "*.ltx"))
        {
            File.Copy(ltx, Path.Combine(dir, "ltx", Path.GetFileName(ltx)));
        }
        using var store = NewStore(temp.Path);
        store.Open();
        var db = store.Find("wal4096.db")!;
        Assert.Equal(File.ReadAllText(Path.Combine(golden, "pos.txt")).TrimEnd(), db.Pos.ToString());
        Assert.Equal(JournalMode.Wal, db.Mode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(golden, "database")), File.ReadAllBytes(db.FilePath(DbFileKind.Database)));
    }

    [Fact]
    public void Open_RemovesLeftoverPoolFiles_KeepsOtherFiles()
    {
        using var temp = new TempDir();
        var ltx = Path.Combine(temp.Path, "dbs", "a.db", "ltx");
        Directory.CreateDirectory(ltx);
        File.WriteAllText(Path.Combine(ltx, ".pool.7.tmp"), "");
        File.WriteAllText(Path.Combine(ltx, "0000000000000002-0000000000000002.ltx.tmp"), "partial");
        using var store = NewStore(temp.Path);
        store.Open();
        Assert.Equal(["0000000000000002-0000000000000002.ltx.tmp"], Directory.GetFiles(ltx).Select(p => Path.GetFileName(p)!));
    }

    [Fact]
    public void Open_TornNewestLtx_IsSetAsideAndPreviousPositionUsed()
    {
        using var temp = new TempDir();
        var dir = Path.Combine(temp.Path, "dbs", "del1024.db");
        Directory.CreateDirectory(Path.Combine(dir, "ltx"));
        var golden = Path.Combine(RepoPaths.Golden, "delete-1024");
        File.Copy(Path.Combine(golden, "states", "txid-4.database"), Path.Combine(dir, "database"));
        foreach (var ltx in Directory.GetFiles(Path.Combine(golden, "ltx"), "*.ltx"))
        {
            File.Copy(ltx, Path.Combine(dir, "ltx", Path.GetFileName(ltx)));
        }
        var newest = Path.Combine(dir, "ltx", "0000000000000005-0000000000000005.ltx");
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..150]);
        using var store = NewStore(temp.Path);
        store.Open();
        Assert.Equal("0000000000000004/bab91db52c5897ed", store.Find("del1024.db")!.Pos.ToString());
        Assert.True(File.Exists(newest + ".corrupt"));
        Assert.False(File.Exists(newest));
    }

    [Theory]
    [InlineData("app.db", true)]
    [InlineData("app", true)]
    [InlineData("app.db-wal", false)]
    [InlineData("x-journal", false)]
    [InlineData("x-pos", false)]
    [InlineData("x-lock", false)]
    [InlineData(".primary", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    public void IsValidName_RejectsReservedNames(string name, bool valid) => Assert.Equal(valid, Store.IsValidName(name));
}

/// <summary>LTX retention.</summary>
public class RetentionTests
{
    [Fact]
    public void EnforceRetention_DeletesOldFilesButNeverTheNewest()
    {
        using var temp = new TempDir();
        var dir = Path.Combine(temp.Path, "dbs", "wal4096.db");
        Directory.CreateDirectory(Path.Combine(dir, "ltx"));
        var golden = Path.Combine(RepoPaths.Golden, "wal-4096");
        File.Copy(Path.Combine(golden, "database"), Path.Combine(dir, "database"));
        var files = Directory.GetFiles(Path.Combine(golden, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        foreach (var ltx in files)
        {
            var target = Path.Combine(dir, "ltx", Path.GetFileName(ltx));
            File.Copy(ltx, target);
            File.SetLastWriteTimeUtc(target, DateTime.UtcNow.AddHours(-1));
        }
        // Age decides file by file (the fourth is recent), and the newest always stays.
        File.SetLastWriteTimeUtc(Path.Combine(dir, "ltx", Path.GetFileName(files[3])), DateTime.UtcNow);
        File.WriteAllText(Path.Combine(dir, "ltx", "0000000000000007-0000000000000007.ltx.tmp"), "partial");
        using var store = new Store(new StoreOptions
        {
            DataDir = temp.Path,
            Lease = new StaticLease(true, "h", "http://127.0.0.1:1"),
            Retention = TimeSpan.FromMinutes(10),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        store.Open();
        store.EnforceRetention();
        var left = Directory.GetFiles(Path.Combine(dir, "ltx")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
            [Path.GetFileName(files[3])!, Path.GetFileName(files[5])!, "0000000000000007-0000000000000007.ltx.tmp"],
            left);
    }
}
