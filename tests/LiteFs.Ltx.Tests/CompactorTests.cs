using LiteFs.TestKit;

namespace LiteFs.Ltx.Tests;

public class CompactorTests
{
    private static string[] Chain(string scenario) =>
        Directory.GetFiles(Path.Combine(RepoPaths.Golden, scenario, "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();

    private static byte[] Compact(IEnumerable<string> paths, LtxCompactorOptions? options = null)
    {
        // Inputs given newest first: the compactor sorts them.
        var inputs = paths.Reverse().Select(p => (Stream)new MemoryStream(File.ReadAllBytes(p))).ToList();
        using var output = new MemoryStream();
        LtxCompactor.Compact(inputs, output, options);
        return output.ToArray();
    }

    [Theory]
    [InlineData("delete-1024", false)]
    [InlineData("delete-1024", true)]
    [InlineData("wal-4096", true)]
    public void Compact_WholeChain_IsSnapshotOfFinalDatabase(string scenario, bool compress)
    {
        var file = Compact(Chain(scenario), new LtxCompactorOptions { Compress = compress });
        var (header, trailer, pages) = TestData.Decode(file);
        Assert.True(header.IsSnapshot);
        Assert.Equal(compress, header.IsCompressed);
        Assert.Equal(Pos.Parse(File.ReadAllText(Path.Combine(RepoPaths.Golden, scenario, "pos.txt")).TrimEnd()), new Pos(header.MaxTxId, trailer.PostApplyChecksum));
        var database = File.ReadAllBytes(Path.Combine(RepoPaths.Golden, scenario, "database"));
        Assert.Equal(database, pages.SelectMany(p => p.Data).ToArray());
    }

    [Fact]
    public void Compact_Tail_AppliesOnTopOfFirstState()
    {
        var chain = Chain("delete-1024");
        var file = Compact(chain[1..]);
        var (header, trailer, pages) = TestData.Decode(file);
        Assert.Equal((2ul, 5ul, 2u), (header.MinTxId.Value, header.MaxTxId.Value, header.Commit));
        // VACUUM shrank the database to 2 pages, so pages 3..12 of the middle files are dropped.
        Assert.Equal([1u, 2u], pages.Select(p => p.Pgno));

        using var temp = new TempDir();
        var db = temp.Combine("db");
        File.Copy(Path.Combine(RepoPaths.Golden, "delete-1024", "states", "txid-1.database"), db);
        using var handle = File.OpenHandle(db, FileMode.Open, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, db, new Pos(new TxId(1), header.PreApplyChecksum));
        applier.Apply(new MemoryStream(file), "compacted");
        Assert.Equal(new Pos(new TxId(5), trailer.PostApplyChecksum), applier.Position);
        handle.Dispose();
        Assert.Equal(File.ReadAllBytes(Path.Combine(RepoPaths.Golden, "delete-1024", "database")), File.ReadAllBytes(db));
    }

    [Fact]
    public void Compact_Gap_IsRejectedUnlessAllowed()
    {
        var chain = Chain("delete-1024");
        var ex = Assert.Throws<InvalidDataException>(() => Compact([chain[1], chain[3]]));
        Assert.Contains("non-contiguous transaction ids", ex.Message, StringComparison.Ordinal);
        var file = Compact([chain[1], chain[3]], new LtxCompactorOptions { AllowNonContiguousTxIds = true });
        Assert.Equal((2ul, 4ul), (TestData.Decode(file).Header.MinTxId.Value, TestData.Decode(file).Header.MaxTxId.Value));
    }

    [Fact]
    public void Compact_MismatchedPageSizes_IsRejected()
    {
        var ex = Assert.Throws<InvalidDataException>(() => Compact([Chain("delete-1024")[0], Chain("wal-4096")[1]], new LtxCompactorOptions { AllowNonContiguousTxIds = true }));
        Assert.Contains("mismatched page sizes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compact_CorruptInput_IsFormatError()
    {
        var chain = Chain("persist-truncate/persist.db");
        var damaged = File.ReadAllBytes(chain[1]);
        damaged[200] ^= 1;
        var inputs = new List<Stream> { File.OpenRead(chain[0]), new MemoryStream(damaged) };
        Assert.Throws<LtxFormatException>(() => LtxCompactor.Compact(inputs, new MemoryStream()));
        inputs[0].Dispose();
    }
}
