using System.Globalization;

namespace LiteFs.Http;

/// <summary>Pieces of the Prometheus text exposition format as Go's client library writes them.</summary>
internal static class PrometheusText
{
    /// <summary>
    /// A sample value as Go's <c>strconv.AppendFloat(v, 'g', -1, 64)</c> (what the Prometheus
    /// client writes): the shortest round-trip digits, in exponent form when the decimal exponent
    /// is below −4 or at least 6 (Go's rule for the shortest form), so 1540576 is <c>1.540576e+06</c>.
    /// </summary>
    public static string FormatValue(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }
        if (double.IsInfinity(value))
        {
            return value > 0 ? "+Inf" : "-Inf";
        }
        if (value == 0)
        {
            return "0";
        }
        // "R" gives the shortest digits that round-trip, in plain or exponent form.
        var shortest = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = shortest.StartsWith('-');
        if (negative)
        {
            shortest = shortest[1..];
        }
        string digits;
        int exponent;
        var e = shortest.IndexOfAny(['E', 'e']);
        var mantissa = e >= 0 ? shortest[..e] : shortest;
        var exp10 = e >= 0 ? int.Parse(shortest.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : "";
        digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        digits = digits.TrimEnd('0');
        // Decimal exponent of the first significant digit.
        exponent = intPart.Length - 1 - leadingZeros + exp10;
        if (digits.Length == 0)
        {
            return "0";
        }
        string text;
        if (exponent < -4 || exponent >= 6)
        {
            var m = digits.Length == 1 ? digits : digits[..1] + "." + digits[1..];
            text = m + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("D2", CultureInfo.InvariantCulture);
        }
        else if (exponent < 0)
        {
            text = "0." + new string('0', -exponent - 1) + digits;
        }
        else if (digits.Length <= exponent + 1)
        {
            text = digits + new string('0', exponent + 1 - digits.Length);
        }
        else
        {
            text = digits[..(exponent + 1)] + "." + digits[(exponent + 1)..];
        }
        return negative ? "-" + text : text;
    }

    /// <summary>A label value with backslash, double quote and newline escaped.</summary>
    public static string EscapeLabel(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
