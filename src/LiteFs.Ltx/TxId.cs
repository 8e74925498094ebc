using System.Buffers.Text;
using System.Globalization;

namespace LiteFs.Ltx;

/// <summary>
/// A transaction ID. 0 means "no transaction yet"; a database's first transaction is 1.
/// Its text form is exactly 16 hex digits, written lowercase.
/// </summary>
public readonly record struct TxId(ulong Value) : IComparable<TxId>, ISpanFormattable
{
    /// <summary>Length of the text form.</summary>
    public const int TextLength = 16;

    /// <summary>The zero transaction ID.</summary>
    public static TxId Zero => default;

    /// <summary>The next transaction ID.</summary>
    public TxId Next => new(Value + 1);

    /// <summary>The previous transaction ID.</summary>
    public TxId Previous => new(Value - 1);

    /// <inheritdoc />
    public int CompareTo(TxId other) => Value.CompareTo(other.Value);

    /// <summary>Whether <paramref name="a"/> is before <paramref name="b"/>.</summary>
    public static bool operator <(TxId a, TxId b) => a.Value < b.Value;

    /// <summary>Whether <paramref name="a"/> is after <paramref name="b"/>.</summary>
    public static bool operator >(TxId a, TxId b) => a.Value > b.Value;

    /// <summary>Whether <paramref name="a"/> is at or before <paramref name="b"/>.</summary>
    public static bool operator <=(TxId a, TxId b) => a.Value <= b.Value;

    /// <summary>Whether <paramref name="a"/> is at or after <paramref name="b"/>.</summary>
    public static bool operator >=(TxId a, TxId b) => a.Value >= b.Value;

    /// <summary>The 16 lowercase hex digits.</summary>
    public override string ToString() => Value.ToString("x16", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc />
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        Value.TryFormat(destination, out charsWritten, "x16", CultureInfo.InvariantCulture);

    /// <summary>Parses exactly 16 hex digits (either case).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out TxId id)
    {
        var ok = Hex16.TryParse(text, out var value);
        id = new TxId(value);
        return ok;
    }

    /// <summary>Parses exactly 16 hex digits, throwing <see cref="FormatException"/> otherwise.</summary>
    public static TxId Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var id) ? id : throw new FormatException(Hex16.Describe("transaction id", text));
}

/// <summary>The fixed-width 16-hex-digit text form shared by TXIDs and checksums.</summary>
internal static class Hex16
{
    public static bool TryParse(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        return text.Length == TxId.TextLength
            && ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public static bool TryParseUtf8(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        return text.Length == TxId.TextLength && Utf8Parser.TryParse(text, out value, out var consumed, 'x') && consumed == text.Length;
    }

    public static string Describe(string what, ReadOnlySpan<char> text) =>
        text.Length != TxId.TextLength
            ? $"invalid formatted {what} length: \"{text}\" (want {TxId.TextLength} hex digits)"
            : $"invalid formatted {what}: \"{text}\" (want {TxId.TextLength} hex digits)";
}
