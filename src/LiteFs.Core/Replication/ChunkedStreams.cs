using System.Buffers;
using System.Buffers.Binary;

namespace LiteFs.Core.Replication;

/// <summary>
/// Reads the chunked encoding of the replication stream (<c>u16</c> length, data, until a zero
/// length) as a plain stream that ends at the terminator. The inner stream is left just after it.
/// </summary>
public sealed class ChunkedReadStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private int _remaining;
    private bool _done;

    /// <summary>Reads chunks from <paramref name="inner"/>; the caller keeps ownership of it.</summary>
    public ChunkedReadStream(Stream inner)
    {
        _inner = inner;
    }

    /// <summary>Whether the terminator has been read.</summary>
    public bool IsComplete => _done;

    /// <summary>Bytes of payload delivered so far.</summary>
    public long BytesRead { get; private set; }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty || _done)
        {
            return 0;
        }
        if (_remaining == 0)
        {
            Span<byte> size = stackalloc byte[2];
            ReadExactly(_inner, size);
            _remaining = BinaryPrimitives.ReadUInt16BigEndian(size);
            if (_remaining == 0)
            {
                _done = true;
                return 0;
            }
        }
        var n = _inner.Read(buffer[..Math.Min(buffer.Length, _remaining)]);
        if (n == 0)
        {
            throw new EndOfStreamException($"the stream ended inside a chunk ({_remaining} bytes missing)");
        }
        _remaining -= n;
        BytesRead += n;
        return n;
    }

    /// <summary>Reads and discards the rest of the payload, through the terminator.</summary>
    public void Drain()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            while (Read(buffer) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = stream.Read(buffer[read..]);
            if (n == 0)
            {
                throw new EndOfStreamException(read == 0 ? "the stream ended before the chunk terminator" : "the stream ended inside a chunk header");
            }
            read += n;
        }
    }

    /// <inheritdoc />
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
}

/// <summary>
/// Writes the chunked encoding: data is gathered into chunks of up to 32 KiB (upstream's size)
/// and written as <c>u16</c> length plus data; <see cref="Complete"/> writes the zero terminator.
/// Disposing does not close the inner stream.
/// </summary>
public sealed class ChunkedWriteStream : WriteOnlyStream
{
    /// <summary>The largest chunk this writer emits.</summary>
    public const int ChunkSize = 32 * 1024;

    private readonly Stream _inner;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(ChunkSize + 2);
    private int _length;

    /// <summary>Writes chunks to <paramref name="inner"/>; the caller keeps ownership of it.</summary>
    public ChunkedWriteStream(Stream inner)
    {
        _inner = inner;
    }

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var chunk = _buffer ?? throw new ObjectDisposedException(nameof(ChunkedWriteStream));
        while (!buffer.IsEmpty)
        {
            var n = Math.Min(buffer.Length, ChunkSize - _length);
            buffer[..n].CopyTo(chunk.AsSpan(2 + _length));
            _length += n;
            buffer = buffer[n..];
            if (_length == ChunkSize)
            {
                WriteChunk();
            }
        }
    }

    /// <summary>Writes any buffered data and the terminator.</summary>
    public void Complete()
    {
        WriteChunk();
        Span<byte> terminator = stackalloc byte[2];
        terminator.Clear();
        _inner.Write(terminator);
    }

    private void WriteChunk()
    {
        if (_length == 0 || _buffer is null)
        {
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(_buffer, (ushort)_length);
        _inner.Write(_buffer, 0, 2 + _length);
        _length = 0;
    }

    /// <inheritdoc />
    public override void Flush() => WriteChunk();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
        base.Dispose(disposing);
    }
}
