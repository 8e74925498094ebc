using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// "MB/s": bytes processed per second (1 MB = 10^6 bytes), from the bytes a benchmark declares
/// with <see cref="ThroughputAttribute"/> divided by its mean time per operation.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    /// <summary>The column.</summary>
    public static readonly IColumn Instance = new ThroughputColumn();

    public string Id => "LtxThroughput";
    public string ColumnName => "MB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Throughput: bytes processed per operation / mean time, in 10^6 bytes per second";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var bytes = BytesPerOperation(benchmarkCase);
        var meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (bytes is null || meanNs is not > 0)
        {
            return "-";
        }
        // bytes / ns = 10^9 bytes/s = 1000 MB/s.
        return (bytes.Value / meanNs.Value * 1000).ToString("N1", CultureInfo.InvariantCulture);
    }

    /// <summary>The bytes one operation of <paramref name="benchmarkCase"/> processes, or null if it does not say.</summary>
    public static long? BytesPerOperation(BenchmarkCase benchmarkCase)
    {
        var attribute = benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<ThroughputAttribute>();
        if (attribute is null)
        {
            return null;
        }
        if (attribute.ScaleByParameter is null)
        {
            return attribute.Bytes;
        }
        var scale = benchmarkCase.Parameters[attribute.ScaleByParameter];
        return attribute.Bytes * Convert.ToInt64(scale, CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// "Alloc/page": the marginal bytes allocated per page, from the allocation of the same benchmark
/// at its smallest and largest PageCount: (Allocated(max) − Allocated(min)) / (max − min). What one
/// LTX file costs regardless of its size (encoder/decoder objects, the LZ4 frame state) cancels out,
/// so this is what the steady per-page path allocates; the target is 0 B.
/// </summary>
public sealed class AllocationPerPageColumn : IColumn
{
    /// <summary>The [Params] member holding the page count.</summary>
    public const string PageCountParameter = "PageCount";

    /// <summary>The column.</summary>
    public static readonly IColumn Instance = new AllocationPerPageColumn();

    public string Id => "LtxAllocPerPage";
    public string ColumnName => "Alloc/page";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Metric;
    public int PriorityInCategory => 10;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Marginal bytes allocated per page: (Allocated at max PageCount - Allocated at min PageCount) / (max - min); 0 B means no per-page allocation";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.HasParameters && c.Parameters.Items.Any(p => p.Name == PageCountParameter));

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (!HasPageCount(benchmarkCase))
        {
            return "-";
        }
        // The same method and job with the same other parameters, at every page count measured.
        var key = Key(benchmarkCase);
        var points = summary.BenchmarksCases
            .Where(c => HasPageCount(c) && Key(c) == key)
            .Select(c => (Pages: Convert.ToInt64(c.Parameters[PageCountParameter], CultureInfo.InvariantCulture), Bytes: Allocated(summary, c)))
            .Where(p => p.Bytes is not null)
            .OrderBy(p => p.Pages)
            .ToList();
        if (points.Count < 2 || points[^1].Pages == points[0].Pages)
        {
            return "?";
        }
        var perPage = (double)(points[^1].Bytes!.Value - points[0].Bytes!.Value) / (points[^1].Pages - points[0].Pages);
        return perPage.ToString("0.#", CultureInfo.InvariantCulture) + " B";
    }

    private static bool HasPageCount(BenchmarkCase c) =>
        c.HasParameters && c.Parameters.Items.Any(p => p.Name == PageCountParameter);

    private static long? Allocated(Summary summary, BenchmarkCase c) =>
        summary[c] is { } report ? report.GcStats.GetBytesAllocatedPerOperation(c) : null;

    private static string Key(BenchmarkCase c) =>
        c.Descriptor.Type.FullName + "." + c.Descriptor.WorkloadMethod.Name + "|" + c.Job.DisplayInfo + "|"
        + string.Join(",", c.Parameters.Items.Where(p => p.Name != PageCountParameter).Select(p => p.Name + "=" + p.Value));
}
