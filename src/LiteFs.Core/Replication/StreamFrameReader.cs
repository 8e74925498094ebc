using System.Buffers.Binary;
using System.Text;
using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>
/// Reads replication frames (the replica's side of <c>/stream</c>). After an LTX frame,
/// <see cref="Payload"/> is the chunked file, which must be read through before the next frame.
/// Malformed input throws <see cref="StreamProtocolException"/>.
/// </summary>
public sealed class StreamFrameReader(Stream input)
{
    /// <summary>Names and lease IDs longer than this are a protocol error, not an allocation.</summary>
    private const int MaxNameLength = 4096;

    /// <summary>At most this much of text found instead of frames is quoted in the error.</summary>
    private const int MaxTextLength = 300;

    private ChunkedReadStream? _payload;

    /// <summary>The LTX payload of the last frame read, if it was an LTX frame.</summary>
    public ChunkedReadStream? Payload => _payload;

    /// <summary>Reads the next frame; null at a clean end of stream (between frames).</summary>
    public StreamFrame? Read()
    {
        if (_payload is { IsComplete: false })
        {
            throw new InvalidOperationException("the previous LTX payload was not read to its end");
        }
        _payload = null;
        Span<byte> buffer = stackalloc byte[12];
        var first = ReadAtMost(buffer[..4]);
        if (first == 0)
        {
            return null;
        }
        if (first < 4)
        {
            throw new StreamProtocolException("the stream ended inside a frame type");
        }
        var raw = BinaryPrimitives.ReadUInt32BigEndian(buffer);
        var type = (StreamFrameType)raw;
        switch (type)
        {
            case StreamFrameType.Ltx:
                Exactly(buffer[..8], "LTX frame size");
                var name = ReadString("LTX frame name");
                _payload = new ChunkedReadStream(input);
                return new StreamFrame(type, name);
            case StreamFrameType.Ready:
            case StreamFrameType.End:
                return new StreamFrame(type);
            case StreamFrameType.DropDb:
                return new StreamFrame(type, ReadString("DROPDB name"));
            case StreamFrameType.Handoff:
                return new StreamFrame(type, LeaseId: ReadString("HANDOFF lease id"));
            case StreamFrameType.Hwm:
                Exactly(buffer[..8], "HWM txid");
                var txid = new TxId(BinaryPrimitives.ReadUInt64BigEndian(buffer));
                return new StreamFrame(type, ReadString("HWM name"), txid);
            case StreamFrameType.Heartbeat:
                Exactly(buffer[..8], "HEARTBEAT timestamp");
                return new StreamFrame(type, Timestamp: BinaryPrimitives.ReadInt64BigEndian(buffer));
            default:
                throw new StreamProtocolException($"invalid stream frame type: 0x{raw:x2}{DescribeText(buffer[..4])}");
        }
    }

    /// <summary>
    /// When the bytes where a frame type was expected are text (a primary writes the text of an
    /// error it hit after the stream started into the body, as upstream does), the rest of that
    /// line, so the replica's log says what the primary said; otherwise nothing.
    /// </summary>
    private string DescribeText(ReadOnlySpan<byte> start)
    {
        static bool IsText(byte b) => b is >= 0x20 and < 0x7F;
        foreach (var b in start)
        {
            if (!IsText(b))
            {
                return "";
            }
        }
        var line = new List<byte>(start.ToArray());
        Span<byte> one = stackalloc byte[1];
        while (line.Count < MaxTextLength && ReadAtMost(one) == 1 && one[0] != (byte)'\n')
        {
            line.Add(IsText(one[0]) ? one[0] : (byte)'?');
        }
        return $"; the primary sent text instead of frames: \"{Encoding.ASCII.GetString([.. line])}\"";
    }

    private string ReadString(string what)
    {
        Span<byte> length = stackalloc byte[4];
        Exactly(length, what + " length");
        var n = BinaryPrimitives.ReadUInt32BigEndian(length);
        if (n > MaxNameLength)
        {
            throw new StreamProtocolException($"{what} is {n} bytes long; at most {MaxNameLength} are allowed");
        }
        var bytes = new byte[n];
        Exactly(bytes, what);
        return Encoding.UTF8.GetString(bytes);
    }

    private void Exactly(Span<byte> buffer, string what)
    {
        if (ReadAtMost(buffer) != buffer.Length)
        {
            throw new StreamProtocolException($"the stream ended inside the {what}");
        }
    }

    private int ReadAtMost(Span<byte> buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = input.Read(buffer[read..]);
            if (n == 0)
            {
                break;
            }
            read += n;
        }
        return read;
    }
}

/// <summary>The replication stream is malformed: the connection is dropped and made again.</summary>
public sealed class StreamProtocolException(string message) : LiteFsException(LiteFsError.Io, message);
