namespace LiteFs.Ltx;

/// <summary>
/// A replication position: a transaction ID and the database's rolling checksum after it.
/// Text form <c>TXID/CHECKSUM</c>, 33 characters.
/// </summary>
public readonly record struct Pos(TxId TxId, Checksum PostApplyChecksum) : ISpanFormattable
{
    /// <summary>Length of the text form.</summary>
    public const int TextLength = 33;

    /// <summary>The position of a database that never had a transaction.</summary>
    public static Pos Zero => default;

    /// <summary>Whether this is the zero position.</summary>
    public bool IsZero => TxId.Value == 0 && PostApplyChecksum.IsZero;

    /// <summary>Formats as <c>%016x/%016x</c>.</summary>
    public override string ToString() => string.Create(TextLength, this, static (span, pos) => pos.TryFormat(span, out _, default, null));

    /// <inheritdoc />
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc />
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        charsWritten = 0;
        if (destination.Length < TextLength
            || !TxId.TryFormat(destination, out _, default, null)
            || !PostApplyChecksum.TryFormat(destination[17..], out _, default, null))
        {
            return false;
        }
        destination[16] = '/';
        charsWritten = TextLength;
        return true;
    }

    /// <summary>
    /// Parses the 33-character text form. As upstream does, the separator character is not
    /// checked; the TXID is characters 0–15 and the checksum 17–32.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Pos pos)
    {
        pos = default;
        if (text.Length != TextLength
            || !TxId.TryParse(text[..16], out var txid)
            || !Checksum.TryParse(text[17..], out var checksum))
        {
            return false;
        }
        pos = new Pos(txid, checksum);
        return true;
    }

    /// <summary>Parses the text form, throwing <see cref="FormatException"/> otherwise.</summary>
    public static Pos Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var pos) ? pos : throw new FormatException($"invalid position \"{text}\": want TXID/CHECKSUM, 16 hex digits each");
}
