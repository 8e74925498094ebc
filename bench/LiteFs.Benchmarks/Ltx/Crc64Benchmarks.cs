using BenchmarkDotNet.Attributes;
using LiteFs.Ltx;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// CRC-64/ISO throughput: <see cref="Crc64Iso.Append"/> (carry-less multiply folding where the CPU
/// has it) and the slice-by-16 <see cref="Crc64Iso.AppendTable"/> against the byte-at-a-time
/// <see cref="Crc64Iso.AppendBytewise"/> (the baseline; the Ratio column is time relative to it, so
/// 0.20 means 5× faster). <c>System.IO.Hashing.Crc64</c> is there for scale only: it computes the
/// ECMA-182 CRC-64, a different polynomial LTX cannot use, with carry-less multiply instructions.
/// </summary>
[Config(typeof(LtxBenchConfig))]
[MemoryDiagnoser]
public class Crc64Benchmarks
{
    private byte[] _data = [];

    /// <summary>Buffer size: one 4 KiB page, and 1 MiB.</summary>
    [Params(4 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(SqliteImage.Seed).NextBytes(_data);
        if (Crc64Iso.Compute("123456789"u8) != 0xB90956C775A41001 || Crc64Iso.Append(0, _data) != Crc64Iso.AppendBytewise(0, _data)
            || Crc64Iso.AppendTable(0, _data) != Crc64Iso.AppendBytewise(0, _data))
        {
            throw new InvalidOperationException("Crc64Iso.Append, AppendTable and AppendBytewise disagree");
        }
    }

    [Benchmark(Baseline = true)]
    [Throughput(1, nameof(Size))]
    public ulong Bytewise() => Crc64Iso.AppendBytewise(0, _data);

    [Benchmark]
    [Throughput(1, nameof(Size))]
    public ulong SliceBy16() => Crc64Iso.AppendTable(0, _data);

    [Benchmark]
    [Throughput(1, nameof(Size))]
    public ulong Folding() => Crc64Iso.Append(0, _data);

    [Benchmark]
    [Throughput(1, nameof(Size))]
    public ulong SystemIoHashingCrc64Ecma() => System.IO.Hashing.Crc64.HashToUInt64(_data);
}
