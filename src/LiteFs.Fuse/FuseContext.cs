using System.Text;

namespace LiteFs.Fuse;

/// <summary>Who asked: the caller of the operation the kernel forwarded.</summary>
public readonly struct FuseContext
{
    internal FuseContext(ulong unique, ulong nodeId, uint uid, uint gid, uint pid)
    {
        Unique = unique;
        NodeId = nodeId;
        Uid = uid;
        Gid = gid;
        Pid = pid;
    }

    /// <summary>The kernel's id of this request.</summary>
    public ulong Unique { get; }

    /// <summary>The node id the request targets.</summary>
    public ulong NodeId { get; }

    /// <summary>The calling process's file system user id.</summary>
    public uint Uid { get; }

    /// <summary>The calling process's file system group id.</summary>
    public uint Gid { get; }

    /// <summary>The calling thread group (process) id; 0 for requests the kernel makes itself.</summary>
    public uint Pid { get; }
}

/// <summary>
/// A file name from a request: its UTF-8 bytes, borrowed from the request buffer (valid only during
/// the call), followed in memory by a NUL so native calls can take it as is.
/// </summary>
public readonly ref struct FileName
{
    private readonly ReadOnlySpan<byte> _withNul;

    /// <summary>Wraps bytes that end with a NUL terminator.</summary>
    /// <exception cref="ArgumentException">The bytes do not end with NUL.</exception>
    public FileName(ReadOnlySpan<byte> nullTerminated)
    {
        if (nullTerminated.IsEmpty || nullTerminated[^1] != 0)
        {
            throw new ArgumentException("A file name must end with a NUL byte.", nameof(nullTerminated));
        }
        _withNul = nullTerminated;
    }

    /// <summary>The name's bytes, without the terminator.</summary>
    public ReadOnlySpan<byte> Bytes => _withNul[..^1];

    /// <summary>The name's bytes followed by the NUL terminator, for native calls.</summary>
    public ReadOnlySpan<byte> NullTerminated => _withNul;

    /// <summary>True for "." and "..".</summary>
    public bool IsDotOrDotDot => Bytes.SequenceEqual("."u8) || Bytes.SequenceEqual(".."u8);

    /// <summary>Compares the name with UTF-8 bytes.</summary>
    public bool Equals(ReadOnlySpan<byte> other) => Bytes.SequenceEqual(other);

    /// <summary>Decodes the name (allocates: for diagnostics and cold paths).</summary>
    public override string ToString() => Encoding.UTF8.GetString(Bytes);
}

/// <summary>A point in time as seconds and nanoseconds since the Unix epoch.</summary>
/// <param name="Seconds">Whole seconds since 1970-01-01T00:00:00Z.</param>
/// <param name="Nanoseconds">Nanoseconds within the second (0..999,999,999).</param>
public readonly record struct Timespec(long Seconds, uint Nanoseconds)
{
    /// <summary>The current time.</summary>
    public static Timespec Now => FromDateTimeOffset(DateTimeOffset.UtcNow);

    /// <summary>Converts from a <see cref="DateTimeOffset"/>.</summary>
    public static Timespec FromDateTimeOffset(DateTimeOffset value)
    {
        var ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0)
        {
            seconds--;
            rest += TimeSpan.TicksPerSecond;
        }
        return new Timespec(seconds, (uint)(rest * 100));
    }

    /// <summary>Converts to a <see cref="DateTimeOffset"/> (100 ns precision).</summary>
    public DateTimeOffset ToDateTimeOffset() =>
        DateTimeOffset.UnixEpoch.AddTicks((Seconds * TimeSpan.TicksPerSecond) + (Nanoseconds / 100));
}
