using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using Perfolizer.Metrology;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Adds the MB/s and Alloc/page columns and the memory diagnoser to every LTX benchmark. The job
/// (how many iterations) comes from the command line, e.g. <c>--job short</c>; see bench/ltx.sh.
/// </summary>
public sealed class LtxBenchConfig : ManualConfig
{
    public LtxBenchConfig()
    {
        AddColumn(ThroughputColumn.Instance, AllocationPerPageColumn.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
        // Allocated in exact bytes (not "1.7 KB"), so the per-page arithmetic can be checked by hand.
        SummaryStyle = SummaryStyle.Default.WithSizeUnit(SizeUnit.B);
    }
}
