namespace LiteFs.Ltx;

/// <summary>LTX file names: <c>%016x-%016x.ltx</c>, the minimum and maximum TXID, lowercase.</summary>
public static class LtxFileName
{
    /// <summary>Length of a file name.</summary>
    public const int Length = 16 + 1 + 16 + 4;

    /// <summary>Formats the name of a file holding transactions <paramref name="min"/> to <paramref name="max"/>.</summary>
    public static string Format(TxId min, TxId max) => $"{min}-{max}.ltx";

    /// <summary>
    /// Parses a file name (no directory). Only the exact lowercase form is accepted, so temporary
    /// and foreign files in an LTX directory are ignored.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> name, out TxId min, out TxId max)
    {
        min = max = default;
        if (name.Length != Length || name[16] != '-' || !name.EndsWith(".ltx", StringComparison.Ordinal)
            || !IsLowerHex(name[..16]) || !IsLowerHex(name.Slice(17, 16)))
        {
            return false;
        }
        return TxId.TryParse(name[..16], out min) && TxId.TryParse(name.Slice(17, 16), out max);
    }

    private static bool IsLowerHex(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }
        return true;
    }
}
