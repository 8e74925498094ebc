using BenchmarkDotNet.Attributes;
using LiteFs.Ltx;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Decode throughput: reads (and fully verifies: file checksum, LZ4 content checksum) the files
/// <see cref="LtxEncodeBenchmarks"/> writes, encoded once in GlobalSetup, page by page into one
/// reused 4 KiB buffer. The input MemoryStream is rewound, not recreated. MB/s counts page data.
/// </summary>
/// <remarks>
/// Reading the allocations: "Allocated" is per file. The per-page part is
/// (Allocated at PageCount=256 − Allocated at PageCount=16) / 240, shown as "Alloc/page"; anything
/// above 0 B is allocated by LtxDecoder.ReadPage on every page.
/// </remarks>
[Config(typeof(LtxBenchConfig))]
[MemoryDiagnoser]
public class LtxDecodeBenchmarks
{
    private readonly byte[] _page = new byte[SqliteImage.PageSize];
    private MemoryStream _input = new();

    [Params(16, 256)]
    public int PageCount { get; set; }

    [Params(false, true)]
    public bool Lz4 { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var image = SqliteImage.Create(PageCount);
        Checksum postApply;
        using (var db = new MemoryStream(image, writable: false))
        {
            postApply = SqliteDatabase.ComputeChecksum(db);
        }
        using var file = new MemoryStream();
        LtxFiles.Encode(file, image, LtxFiles.Header(PageCount, Lz4), postApply);
        _input = new MemoryStream(file.ToArray(), writable: false);
        if (Decode() != PageCount)
        {
            throw new InvalidOperationException("decoded page count differs from the encoded one");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _input.Dispose();

    [Benchmark]
    [Throughput(SqliteImage.PageSize, nameof(PageCount))]
    public int Decode()
    {
        _input.Position = 0;
        using var decoder = new LtxDecoder(_input);
        decoder.ReadHeader();
        var pages = 0;
        while (decoder.ReadPage(out _, _page))
        {
            pages++;
        }
        return pages;
    }
}
