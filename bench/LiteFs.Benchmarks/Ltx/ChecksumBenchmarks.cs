using BenchmarkDotNet.Attributes;
using LiteFs.Ltx;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Database checksum throughput over PageCount 4 KiB pages: <see cref="Checksum.OfPage"/> folded
/// over pages already in memory (the baseline: pure CRC work), and
/// <see cref="SqliteDatabase.ComputeChecksum"/> over a MemoryStream holding the same database image
/// (adds the header parse and a stream read per page). Both give the same rolling checksum.
/// </summary>
/// <remarks>"Alloc/page" = (Allocated at 256 pages − Allocated at 16) / 240; the target is 0 B.</remarks>
[Config(typeof(LtxBenchConfig))]
[MemoryDiagnoser]
public class ChecksumBenchmarks
{
    private byte[] _image = [];
    private MemoryStream _db = new();

    [Params(16, 256)]
    public int PageCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _image = SqliteImage.Create(PageCount);
        _db = new MemoryStream(_image, writable: false);
        if (OfPage() != ComputeChecksum())
        {
            throw new InvalidOperationException("Checksum.OfPage and SqliteDatabase.ComputeChecksum disagree");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _db.Dispose();

    [Benchmark(Baseline = true)]
    [Throughput(SqliteImage.PageSize, nameof(PageCount))]
    public ulong OfPage()
    {
        var checksum = Checksum.Flag;
        for (uint pgno = 1; pgno <= PageCount; pgno++)
        {
            checksum = checksum.Xor(Checksum.OfPage(pgno, SqliteImage.Page(_image, pgno)));
        }
        return checksum.Value;
    }

    [Benchmark]
    [Throughput(SqliteImage.PageSize, nameof(PageCount))]
    public ulong ComputeChecksum() => SqliteDatabase.ComputeChecksum(_db).Value;
}
