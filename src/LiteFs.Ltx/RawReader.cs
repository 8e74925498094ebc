namespace LiteFs.Ltx;

/// <summary>
/// Reads exact byte counts from a stream, never past what is asked, keeping the file offset so
/// errors can say where the file ended.
/// </summary>
internal sealed class RawReader(Stream stream)
{
    public Stream Stream { get; } = stream;

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long Offset { get; private set; }

    /// <summary>Fills <paramref name="buffer"/> or throws a format error naming <paramref name="field"/>.</summary>
    public void ReadExactly(Span<byte> buffer, string field)
    {
        var n = Stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        Offset += n;
        if (n < buffer.Length)
        {
            throw new LtxFormatException(field, Offset,
                $"unexpected end of file: wanted {buffer.Length} bytes, {n} left (the file is truncated)");
        }
    }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes; fewer only at end of stream.</summary>
    public int ReadAtMost(Span<byte> buffer)
    {
        var n = Stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        Offset += n;
        return n;
    }
}
