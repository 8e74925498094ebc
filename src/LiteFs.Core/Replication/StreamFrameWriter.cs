using System.Buffers.Binary;
using System.Text;
using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>
/// Writes replication frames to a stream (the primary's side of <c>/stream</c>). Writes are
/// synchronous: back-pressure comes from the transport. <see cref="Flush"/> pushes what was
/// written to the replica.
/// </summary>
public sealed class StreamFrameWriter(Stream output)
{
    /// <summary>The stream frames go to.</summary>
    public Stream Output { get; } = output;

    /// <summary>Writes an LTX frame header; the file follows through <see cref="ChunkedWriteStream"/>.</summary>
    public void WriteLtxHeader(string name)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        Span<byte> head = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)StreamFrameType.Ltx);
        BinaryPrimitives.WriteUInt64BigEndian(head[4..], 0); // size: always 0, readers ignore it
        BinaryPrimitives.WriteUInt32BigEndian(head[12..], (uint)nameBytes.Length);
        Output.Write(head);
        Output.Write(nameBytes);
    }

    /// <summary>Writes a whole LTX frame: header, the file chunked, the terminator.</summary>
    public void WriteLtx(string name, ReadOnlySpan<byte> file)
    {
        WriteLtxHeader(name);
        using var chunked = new ChunkedWriteStream(Output);
        chunked.Write(file);
        chunked.Complete();
    }

    /// <summary>Writes a frame without payload: READY or END.</summary>
    public void WriteEmpty(StreamFrameType type)
    {
        Span<byte> head = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)type);
        Output.Write(head);
    }

    /// <summary>Writes a HEARTBEAT frame with the primary's clock.</summary>
    public void WriteHeartbeat(long timestampMs)
    {
        Span<byte> frame = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)StreamFrameType.Heartbeat);
        BinaryPrimitives.WriteInt64BigEndian(frame[4..], timestampMs);
        Output.Write(frame);
    }

    /// <summary>Writes an HWM frame for a database.</summary>
    public void WriteHwm(string name, TxId txid)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        Span<byte> head = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)StreamFrameType.Hwm);
        BinaryPrimitives.WriteUInt64BigEndian(head[4..], txid.Value);
        BinaryPrimitives.WriteUInt32BigEndian(head[12..], (uint)nameBytes.Length);
        Output.Write(head);
        Output.Write(nameBytes);
    }

    /// <summary>Writes a DROPDB or HANDOFF frame: a length-prefixed string.</summary>
    public void WriteNamed(StreamFrameType type, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(head[4..], (uint)bytes.Length);
        Output.Write(head);
        Output.Write(bytes);
    }

    /// <summary>Sends everything written so far.</summary>
    public void Flush() => Output.Flush();
}
