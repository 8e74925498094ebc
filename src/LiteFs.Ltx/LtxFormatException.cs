namespace LiteFs.Ltx;

/// <summary>
/// An LTX file is malformed. <see cref="Field"/> names the structure or field at fault and
/// <see cref="Offset"/> is the byte offset in the file (for compressed files, offsets inside the
/// page block count decompressed bytes and say so).
/// </summary>
public sealed class LtxFormatException : FormatException
{
    /// <summary>Creates an exception for a field at an offset.</summary>
    public LtxFormatException(string field, long offset, string detail, Exception? inner = null)
        : base($"invalid LTX file: {field} at offset {offset}: {detail}", inner)
    {
        Field = field;
        Offset = offset;
        Detail = detail;
    }

    /// <summary>Creates an exception that names no single field.</summary>
    public LtxFormatException()
        : this("file", 0, "malformed")
    {
    }

    /// <summary>Creates an exception with a message only.</summary>
    public LtxFormatException(string message)
        : this("file", 0, message)
    {
    }

    /// <summary>Creates an exception with a message and cause.</summary>
    public LtxFormatException(string message, Exception innerException)
        : this("file", 0, message, innerException)
    {
    }

    /// <summary>The structure or field at fault, e.g. <c>header.PageSize</c>, <c>page 7</c>, <c>trailer.FileChecksum</c>.</summary>
    public string Field { get; }

    /// <summary>Byte offset of the fault.</summary>
    public long Offset { get; }

    /// <summary>What was wrong, without the location.</summary>
    public string Detail { get; }
}
