using LiteFs.TestKit;

namespace LiteFs.Ltx.Tests;

public class ApplierTests
{
    private static string[] Chain(string scenario) =>
        Directory.GetFiles(Path.Combine(RepoPaths.Golden, scenario, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Apply_OutOfOrder_IsRejectedAndChangesNothing()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        var chain = Chain("delete-1024");
        using var handle = File.OpenHandle(db, FileMode.CreateNew, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        ApplyFile(applier, chain[0], chain[0]);
        var before = File.ReadAllBytes(db);
        var ex = Assert.Throws<InvalidDataException>(() => ApplyFile(applier, chain[2], "third"));
        Assert.Contains("applies at position 0000000000000002/9c02de579ac07ad4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("is at position 0000000000000001/98681b4ca9225ada", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(db));
    }

    [Fact]
    public void Apply_CorruptFile_ChangesNothing()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        var chain = Chain("persist-truncate/truncate.db");
        using var handle = File.OpenHandle(db, FileMode.CreateNew, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        ApplyFile(applier, chain[0], chain[0]);
        var before = File.ReadAllBytes(db);
        var damaged = File.ReadAllBytes(chain[1]);
        damaged[^20] ^= 0x10; // last byte of the last page
        Assert.Throws<LtxFormatException>(() => applier.Apply(new MemoryStream(damaged), "damaged"));
        Assert.Equal(before, File.ReadAllBytes(db));
        Assert.Equal(1ul, applier.Position.TxId.Value);
    }

    [Fact]
    public void Apply_OnExistingDatabaseWithoutPosition_ChecksChecksum()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        File.Copy(Path.Combine(RepoPaths.Golden, "delete-1024", "states", "txid-3.database"), db);
        var chain = Chain("delete-1024");
        using var handle = File.OpenHandle(db, FileMode.Open, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        Assert.Throws<InvalidDataException>(() => ApplyFile(applier, chain[4], "fifth"));
        ApplyFile(applier, chain[3], "fourth");
        ApplyFile(applier, chain[4], "fifth");
        Assert.Equal("0000000000000005/e415b20785273d2a", applier.Position.ToString());
    }

    [Fact]
    public void Apply_Snapshot_ReplacesAnyState()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        File.Copy(Path.Combine(RepoPaths.Golden, "delete-1024", "states", "txid-3.database"), db);
        using var handle = File.OpenHandle(db, FileMode.Open, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        var snapshot = Directory.GetFiles(Path.Combine(RepoPaths.Golden, "stream", "a-empty-posmap-snapshot"), "*.ltx").Single();
        ApplyFile(applier, snapshot, snapshot);
        Assert.Equal("0000000000000006/ff47ac2266e33f3f", applier.Position.ToString());
        Assert.Equal(4096, applier.PageSize);
        Assert.Equal(2u, applier.PageCount);
    }

    [Fact]
    public void Apply_DeletionFile_EmptiesDatabase()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        var chain = Chain("delete-1024");
        using var handle = File.OpenHandle(db, FileMode.CreateNew, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        ApplyFile(applier, chain[0], chain[0]);
        var deletion = TestData.Encode(new LtxHeader
        {
            PageSize = 1024,
            Commit = 0,
            MinTxId = new TxId(2),
            MaxTxId = new TxId(2),
            PreApplyChecksum = applier.Checksum,
        }, [], Checksum.Flag);
        applier.Apply(new MemoryStream(deletion), "deletion");
        Assert.Equal(0, RandomAccess.GetLength(handle));
        Assert.Equal(new Pos(new TxId(2), Checksum.Flag), applier.Position);
    }

    [Fact]
    public void Apply_GrowthWithHole_CountsZeroPages()
    {
        using var temp = new TempDir();
        var db = temp.Combine("db");
        var page1 = StreamingTests.SqlitePage(512);
        var snapshotPages = new List<(uint, byte[])> { (1, page1) };
        var snapshot = TestData.Encode(TestData.SnapshotHeader(512, 1), snapshotPages, TestData.RollingChecksum(snapshotPages));
        using var handle = File.OpenHandle(db, FileMode.CreateNew, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        applier.Apply(new MemoryStream(snapshot), "snapshot");

        // Page 4 arrives, pages 2 and 3 are never written: they read back as zeros.
        var page4 = TestData.Repeat("four", 512);
        var expected = TestData.RollingChecksum([(1, page1), (2, new byte[512]), (3, new byte[512]), (4, page4)]);
        var grow = TestData.Encode(new LtxHeader
        {
            PageSize = 512,
            Commit = 4,
            MinTxId = new TxId(2),
            MaxTxId = new TxId(2),
            PreApplyChecksum = applier.Checksum,
        }, [(4, page4)], expected);
        applier.Apply(new MemoryStream(grow), "grow");
        Assert.Equal(expected, applier.Checksum);
        Assert.Equal(2048, RandomAccess.GetLength(handle));
    }

    private static void ApplyFile(LtxApplier applier, string path, string name)
    {
        using var stream = File.OpenRead(path);
        applier.Apply(stream, name);
    }
}
