using System.Globalization;

namespace LiteFs.Ltx;

/// <summary>
/// An LTX checksum: a CRC-64/ISO value with bit 63 forced on (<see cref="Flag"/>) wherever the
/// format computes one. The zero value means "no checksum" (a snapshot's pre-apply checksum, the
/// position of a database that never had a transaction).
/// </summary>
public readonly record struct Checksum(ulong Value) : ISpanFormattable
{
    /// <summary>Bit 63, set on every computed checksum; also the checksum of an empty database.</summary>
    public const ulong FlagBit = 0x8000000000000000;

    /// <summary>Bit 63 alone: the rolling checksum of a database with no pages.</summary>
    public static Checksum Flag => new(FlagBit);

    /// <summary>Whether bit 63 is set.</summary>
    public bool HasFlag => (Value & FlagBit) != 0;

    /// <summary>Whether this is the zero ("none") checksum.</summary>
    public bool IsZero => Value == 0;

    /// <summary>
    /// Folds a page checksum into (or out of) a rolling database checksum. XOR is its own
    /// inverse, so the same call adds a page and removes it.
    /// </summary>
    public Checksum Xor(Checksum pageChecksum) => new(FlagBit | Value ^ pageChecksum.Value);

    /// <summary>The checksum of one page: CRC-64/ISO over the big-endian page number then the data, bit 63 set.</summary>
    public static Checksum OfPage(uint pgno, ReadOnlySpan<byte> data)
    {
        Span<byte> pgnoBytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(pgnoBytes, pgno);
        var crc = Crc64Iso.Append(0, pgnoBytes);
        return new Checksum(FlagBit | Crc64Iso.Append(crc, data));
    }

    /// <summary>The 16 lowercase hex digits.</summary>
    public override string ToString() => Value.ToString("x16", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc />
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        Value.TryFormat(destination, out charsWritten, "x16", CultureInfo.InvariantCulture);

    /// <summary>Parses exactly 16 hex digits (either case).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Checksum checksum)
    {
        var ok = Hex16.TryParse(text, out var value);
        checksum = new Checksum(value);
        return ok;
    }

    /// <summary>Parses exactly 16 hex digits, throwing <see cref="FormatException"/> otherwise.</summary>
    public static Checksum Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var c) ? c : throw new FormatException(Hex16.Describe("checksum", text));
}
