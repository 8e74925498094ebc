namespace LiteFs.Benchmarks.Ltx;

/// <summary>
/// Declares how many bytes one benchmark operation processes, for <see cref="ThroughputColumn"/>:
/// <paramref name="bytes"/>, multiplied by the value of the parameter named
/// <paramref name="scaleByParameter"/> when one is given (e.g. 4096 per page × PageCount).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ThroughputAttribute(long bytes, string? scaleByParameter = null) : Attribute
{
    /// <summary>Bytes per operation, or per unit of the scaling parameter.</summary>
    public long Bytes { get; } = bytes;

    /// <summary>Name of the [Params] member that multiplies <see cref="Bytes"/>, or null.</summary>
    public string? ScaleByParameter { get; } = scaleByParameter;
}
