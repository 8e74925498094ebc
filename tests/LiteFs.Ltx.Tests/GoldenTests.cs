using LiteFs.TestKit;

namespace LiteFs.Ltx.Tests;

/// <summary>LTX files, databases and positions produced by upstream LiteFS v0.5.14.</summary>
public class GoldenTests
{
    /// <summary>Scenario folders holding an ltx/ chain from TXID 1, the final database and pos.txt.</summary>
    public static TheoryData<string> Scenarios => new()
    {
        "delete-1024",
        "wal-4096",
        "persist-truncate/persist.db",
        "persist-truncate/truncate.db",
    };

    public static TheoryData<string> AllLtxFiles()
    {
        var data = new TheoryData<string>();
        foreach (var root in new[] { RepoPaths.Golden, RepoPaths.UpstreamTests })
        {
            foreach (var file in Directory.EnumerateFiles(root, "*.ltx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetRelativePath(RepoPaths.TestData, file));
            }
        }
        return data;
    }

    [Fact]
    public void Corpus_HasTheExpectedFiles() => Assert.True(AllLtxFiles().Count >= 25, $"only {AllLtxFiles().Count} golden LTX files found under {RepoPaths.TestData}");

    [Theory]
    [MemberData(nameof(AllLtxFiles))]
    public void Verify_EveryGoldenFile_Succeeds(string relative)
    {
        using var file = File.OpenRead(Path.Combine(RepoPaths.TestData, relative));
        var (header, trailer, pages) = LtxDecoder.Verify(file);
        Assert.True(pages > 0);
        Assert.True(trailer.PostApplyChecksum.HasFlag);
        Assert.True(LtxFileName.TryParse(Path.GetFileName(relative).AsSpan()[^LtxFileName.Length..], out var min, out var max));
        Assert.Equal((min, max), (header.MinTxId, header.MaxTxId));
    }

    [Theory]
    [MemberData(nameof(AllLtxFiles))]
    public void Reencode_EveryGoldenFile_GivesSameContentAndChecksum(string relative)
    {
        var original = File.ReadAllBytes(Path.Combine(RepoPaths.TestData, relative));
        var (header, trailer, pages) = TestData.Decode(original);
        var reencoded = TestData.Encode(header, pages, trailer.PostApplyChecksum);

        // The file checksum covers the uncompressed content, so it must match either way; an
        // uncompressed file must match byte for byte.
        var (header2, trailer2, pages2) = TestData.Decode(reencoded);
        Assert.Equal(header, header2);
        Assert.Equal(trailer, trailer2);
        Assert.Equal(pages.Select(p => p.Pgno), pages2.Select(p => p.Pgno));
        if (!header.IsCompressed)
        {
            Assert.Equal(original, reencoded);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void ApplyChain_FromEmptyFile_ReproducesDatabaseAndPosition(string scenario)
    {
        var dir = Path.Combine(RepoPaths.Golden, scenario);
        using var temp = new TempDir();
        var dbPath = temp.Combine("db");
        using (var handle = File.OpenHandle(dbPath, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            var applier = new LtxApplier(handle, dbPath);
            foreach (var ltx in Directory.GetFiles(Path.Combine(dir, "ltx"), "*.ltx").Order(StringComparer.Ordinal))
            {
                using var stream = File.OpenRead(ltx);
                applier.Apply(stream, ltx);
                var state = Path.Combine(dir, "states", $"txid-{applier.Position.TxId.Value}.database");
                if (File.Exists(state))
                {
                    Assert.Equal(File.ReadAllBytes(state), ReadAll(handle));
                }
            }
            Assert.Equal(File.ReadAllText(Path.Combine(dir, "pos.txt")).TrimEnd('\n'), applier.Position.ToString());
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "database")), File.ReadAllBytes(dbPath));
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void DatabaseChecksum_EqualsUpstreamChecksumTxt(string scenario)
    {
        var dir = Path.Combine(RepoPaths.Golden, scenario);
        using var db = File.OpenRead(Path.Combine(dir, "database"));
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "checksum.txt")).Trim(), SqliteDatabase.ComputeChecksum(db).ToString());
    }

    [Fact]
    public void StateChecksums_EqualUpstreamList()
    {
        var dir = Path.Combine(RepoPaths.Golden, "delete-1024", "states");
        foreach (var line in File.ReadAllLines(Path.Combine(dir, "checksums.txt")))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            using var db = File.OpenRead(Path.Combine(dir, parts[0]));
            Assert.Equal(parts[1], SqliteDatabase.ComputeChecksum(db).ToString());
        }
    }

    [Theory]
    [InlineData("db/write-snapshot-to/database", "e2e79e6905b952db")]
    [InlineData("db/enforce-retention/database", "e2e79e6905b952db")]
    [InlineData("store/open-and-write-snapshot/dbs/sqlite.db/database", "fe3831a381c602b9")]
    public void UpstreamTestDatabases_HaveDocumentedChecksum(string relative, string checksum)
    {
        using var db = File.OpenRead(Path.Combine(RepoPaths.UpstreamTests, relative));
        Assert.Equal(checksum, SqliteDatabase.ComputeChecksum(db).ToString());
    }

    [Theory]
    [InlineData("store/open-invalid-database-header/dbs/test.db/database", "page size 0")]
    [InlineData("store/open-short-database/dbs/test.db/database", "10 bytes")]
    public void UpstreamTestDatabases_NotDatabases_GiveClearError(string relative, string expected)
    {
        using var db = File.OpenRead(Path.Combine(RepoPaths.UpstreamTests, relative));
        var ex = Assert.Throws<InvalidDataException>(() => SqliteDatabase.ComputeChecksum(db, "test.db"));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshot_OfUpstreamDatabase_MatchesRemovedUpstreamTestExpectation()
    {
        using var db = File.OpenRead(Path.Combine(RepoPaths.UpstreamTests, "db/write-snapshot-to/database"));
        using var output = new MemoryStream();
        var trailer = LtxSnapshot.Write(db, output, new TxId(1), new LtxSnapshotOptions { Compress = true });
        output.Position = 0;
        var (header, verified, pages) = LtxDecoder.Verify(output);
        Assert.Equal((4096, 2u, 1ul, 1ul, 2), (header.PageSize, header.Commit, header.MinTxId.Value, header.MaxTxId.Value, pages));
        Assert.Equal(0xe2e79e6905b952dbul, verified.PostApplyChecksum.Value);
        Assert.Equal(trailer, verified);
    }

    [Fact]
    public void Snapshot_AtFixturePosition_VerifiesAndRestoresDatabase()
    {
        var dir = Path.Combine(RepoPaths.UpstreamTests, "store/open-and-write-snapshot/dbs/sqlite.db");
        var ltxPath = Path.Combine(dir, "ltx", "000000000000000d-000000000000000d.ltx");
        Checksum post;
        using (var ltx = File.OpenRead(ltxPath))
        {
            post = LtxDecoder.Verify(ltx).Trailer.PostApplyChecksum;
        }
        using var temp = new TempDir();
        var snapshotPath = temp.Combine("snapshot.ltx");
        using (var db = File.OpenRead(Path.Combine(dir, "database")))
        using (var output = File.Create(snapshotPath))
        {
            LtxSnapshot.Write(db, output, new TxId(13), new LtxSnapshotOptions(), expected: post);
        }
        var restored = temp.Combine("restored");
        using (var handle = File.OpenHandle(restored, FileMode.CreateNew, FileAccess.ReadWrite))
        using (var snapshot = File.OpenRead(snapshotPath))
        {
            var applier = new LtxApplier(handle, restored);
            applier.Apply(snapshot, snapshotPath);
            Assert.Equal(new Pos(new TxId(13), post), applier.Position);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "database")), File.ReadAllBytes(restored));
    }

    private static byte[] ReadAll(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        var bytes = new byte[RandomAccess.GetLength(handle)];
        RandomAccess.Read(handle, bytes, 0);
        return bytes;
    }
}
