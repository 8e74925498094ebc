using BenchmarkDotNet.Attributes;
using LiteFs.Ltx;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Encode throughput: one LTX file of PageCount 4 KiB pages, uncompressed and LZ4, into a
/// MemoryStream that is emptied (not reallocated) before each operation, so the stream itself
/// allocates nothing. MB/s counts page data (PageCount × 4096 bytes), not file bytes.
/// </summary>
/// <remarks>
/// Reading the allocations: "Allocated" is per operation, i.e. per LTX file. It is a fixed cost per
/// file (the encoder, the LZ4 frame writer and its XxHash32) plus a cost per page. The per-page part
/// is (Allocated at PageCount=256 − Allocated at PageCount=16) / 240, which the "Alloc/page" column
/// computes; 0 B means the steady WritePage path allocates nothing.
/// </remarks>
[Config(typeof(LtxBenchConfig))]
[MemoryDiagnoser]
public class LtxEncodeBenchmarks
{
    private byte[] _image = [];
    private MemoryStream _output = new();
    private LtxHeader _header;
    private Checksum _postApply;

    [Params(16, 256)]
    public int PageCount { get; set; }

    [Params(false, true)]
    public bool Lz4 { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _image = SqliteImage.Create(PageCount);
        _header = LtxFiles.Header(PageCount, Lz4);
        using (var db = new MemoryStream(_image, writable: false))
        {
            _postApply = SqliteDatabase.ComputeChecksum(db);
        }
        // Room for the whole file up front, so writing never grows the stream.
        _output = new MemoryStream((int)LtxLayout.UncompressedFileSize(SqliteImage.PageSize, PageCount) + 4096);
        Encode();
        _output.Position = 0;
        var (header, _, pages) = LtxDecoder.Verify(_output);
        if (pages != PageCount || header.IsCompressed != Lz4)
        {
            throw new InvalidOperationException($"encoded file holds {pages} pages, compressed={header.IsCompressed}");
        }
        Console.WriteLine($"// LTX file: {PageCount} pages, lz4={Lz4}: {_output.Length} bytes ({(double)_output.Length / _image.Length:P1} of page data)");
    }

    [GlobalCleanup]
    public void Cleanup() => _output.Dispose();

    [Benchmark]
    [Throughput(SqliteImage.PageSize, nameof(PageCount))]
    public long Encode()
    {
        _output.Position = 0;
        _output.SetLength(0);
        LtxFiles.Encode(_output, _image, _header, _postApply);
        return _output.Length;
    }
}
