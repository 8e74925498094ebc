namespace LiteFs.Cli.Config;

/// <summary>
/// Go's duration syntax (<c>time.ParseDuration</c>), which is what upstream's config file uses:
/// an optional sign, then one or more decimal numbers each with an optional fraction and a unit
/// (<c>ns</c>, <c>us</c>/<c>µs</c>, <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>), e.g. <c>"1h30m"</c>,
/// <c>"1.5h"</c>, <c>"500ms"</c>; a lone <c>"0"</c> is zero.
/// </summary>
internal static class GoDuration
{
    // Go durations are int64 nanoseconds; the accumulators are uint64 so that the magnitude of
    // the most negative duration (2^63 ns) still fits, as in Go.
    private const ulong MaxMagnitude = 1UL << 63;
    private const long NanosecondsPerTick = 100;

    /// <summary>
    /// Parses <paramref name="text"/> exactly as Go's <c>time.ParseDuration</c> accepts it
    /// (same grammar, units, fraction rounding and overflow limits). The result is truncated to
    /// <see cref="TimeSpan"/>'s 100 ns resolution.
    /// </summary>
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s is "0")
        {
            return true;
        }
        if (s.IsEmpty)
        {
            return false;
        }
        ulong total = 0;
        while (!s.IsEmpty)
        {
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                return false;
            }
            var before = s.Length;
            if (!TryLeadingInt(ref s, out var whole))
            {
                return false;
            }
            var hasWhole = before != s.Length;
            ulong fraction = 0;
            double scale = 1;
            var hasFraction = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                before = s.Length;
                LeadingFraction(ref s, out fraction, out scale);
                hasFraction = before != s.Length;
            }
            if (!hasWhole && !hasFraction)
            {
                return false;
            }
            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength]))
            {
                unitLength++;
            }
            if (unitLength == 0 || !TryUnit(s[..unitLength], out var unit))
            {
                return false;
            }
            s = s[unitLength..];
            if (whole > MaxMagnitude / unit)
            {
                return false;
            }
            whole *= unit;
            if (fraction > 0)
            {
                // Go computes the fraction in float64, which is nanosecond-exact up to hours.
                whole += (ulong)(fraction * (unit / scale));
                if (whole > MaxMagnitude)
                {
                    return false;
                }
            }
            total += whole;
            if (total > MaxMagnitude)
            {
                return false;
            }
        }
        if (!negative && total > MaxMagnitude - 1)
        {
            return false;
        }
        var nanoseconds = negative ? unchecked(-(long)total) : (long)total;
        value = TimeSpan.FromTicks(nanoseconds / NanosecondsPerTick);
        return true;
    }

    private static bool TryLeadingInt(ref ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (value > MaxMagnitude / 10)
            {
                return false;
            }
            value = (value * 10) + (ulong)(s[i] - '0');
            if (value > MaxMagnitude)
            {
                return false;
            }
        }
        s = s[i..];
        return true;
    }

    // Fraction digits past what fits only lose precision; they are never an error.
    private static void LeadingFraction(ref ReadOnlySpan<char> s, out ulong value, out double scale)
    {
        value = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (overflow)
            {
                continue;
            }
            if (value > (MaxMagnitude - 1) / 10)
            {
                overflow = true;
                continue;
            }
            var next = (value * 10) + (ulong)(s[i] - '0');
            if (next > MaxMagnitude)
            {
                overflow = true;
                continue;
            }
            value = next;
            scale *= 10;
        }
        s = s[i..];
    }

    private static bool TryUnit(ReadOnlySpan<char> unit, out ulong nanoseconds)
    {
        nanoseconds = unit switch
        {
            "ns" => 1,
            "us" or "\u00b5s" or "\u03bcs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => 0,
        };
        return nanoseconds != 0;
    }

    /// <summary>
    /// A duration as Go's <c>Duration.String</c> writes it: <c>1h2m3.5s</c>, <c>1.5s</c>,
    /// <c>350ms</c>, <c>12.3µs</c>, <c>0s</c> (fractions without trailing zeros).
    /// </summary>
    public static string Format(TimeSpan value)
    {
        var ns = value.Ticks * NanosecondsPerTick;
        if (ns == 0)
        {
            return "0s";
        }
        var sign = ns < 0 ? "-" : "";
        var magnitude = (ulong)Math.Abs(ns);
        if (magnitude < 1_000_000_000)
        {
            var (unit, scale) = magnitude < 1_000 ? ("ns", 1UL) : magnitude < 1_000_000 ? ("µs", 1_000UL) : ("ms", 1_000_000UL);
            return sign + Fraction(magnitude, scale) + unit;
        }
        var hours = magnitude / 3_600_000_000_000;
        var minutes = magnitude / 60_000_000_000 % 60;
        var seconds = magnitude % 60_000_000_000;
        var text = new System.Text.StringBuilder(sign);
        if (hours > 0)
        {
            text.Append(hours).Append('h');
        }
        if (hours > 0 || minutes > 0)
        {
            text.Append(minutes).Append('m');
        }
        return text.Append(Fraction(seconds, 1_000_000_000)).Append('s').ToString();
    }

    /// <summary><paramref name="value"/> / <paramref name="scale"/> in decimal, without trailing zeros.</summary>
    private static string Fraction(ulong value, ulong scale)
    {
        var whole = value / scale;
        var rest = value % scale;
        if (rest == 0)
        {
            return whole.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var digits = scale.ToString(System.Globalization.CultureInfo.InvariantCulture).Length - 1;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{whole}.{rest.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0')}");
    }
}
