namespace LiteFs.Core.Metrics;

/// <summary>
/// One metric family as a component reports it for the node's <c>/metrics</c>: its name, type
/// (<c>counter</c> or <c>gauge</c>), help text and samples. The node API renders it in the
/// Prometheus text format beside its own series.
/// </summary>
public sealed record MetricFamily(string Name, string Type, string Help, IReadOnlyList<MetricSample> Samples)
{
    /// <summary>The Prometheus type <c>counter</c>.</summary>
    public const string Counter = "counter";

    /// <summary>The Prometheus type <c>gauge</c>.</summary>
    public const string Gauge = "gauge";
}

/// <summary>One sample of a <see cref="MetricFamily"/>: its labels (name, value), possibly none, and its value.</summary>
public sealed record MetricSample(IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    /// <summary>A sample without labels.</summary>
    public MetricSample(double value)
        : this([], value)
    {
    }

    /// <summary>A sample with one label.</summary>
    public MetricSample(string label, string labelValue, double value)
        : this([new KeyValuePair<string, string>(label, labelValue)], value)
    {
    }
}

/// <summary>A component with series of its own in the node's <c>/metrics</c> (the HTTP proxy, ...).</summary>
public interface IMetricsSource
{
    /// <summary>The component's families as of now; called on each scrape, from any thread.</summary>
    IEnumerable<MetricFamily> Collect();
}
