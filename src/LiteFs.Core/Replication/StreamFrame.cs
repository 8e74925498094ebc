using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>The frame types of the <c>/stream</c> response body (a big-endian u32 before each frame).</summary>
public enum StreamFrameType : uint
{
    /// <summary>An LTX file for a database, chunked.</summary>
    Ltx = 1,

    /// <summary>The initial catch-up pass is done.</summary>
    Ready = 2,

    /// <summary>The primary ends the stream cleanly.</summary>
    End = 3,

    /// <summary>The replica reported a database the primary does not have (deprecated; ignored by replicas).</summary>
    DropDb = 4,

    /// <summary>The primary hands its lease to this replica.</summary>
    Handoff = 5,

    /// <summary>The backup high-water mark of a database.</summary>
    Hwm = 6,

    /// <summary>The primary's clock, in milliseconds since the epoch.</summary>
    Heartbeat = 7,
}

/// <summary>
/// One frame of the replication stream. For <see cref="StreamFrameType.Ltx"/> the LTX file
/// follows on the stream, chunked, and must be read through before the next frame.
/// </summary>
public readonly record struct StreamFrame(StreamFrameType Type, string Name = "", TxId TxId = default, long Timestamp = 0, string LeaseId = "");
