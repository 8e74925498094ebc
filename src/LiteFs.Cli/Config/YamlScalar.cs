using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace LiteFs.Cli.Config;

/// <summary>What a YAML scalar is, after tags, quoting and plain-scalar resolution.</summary>
internal enum ScalarKind
{
    /// <summary><c>~</c>, <c>null</c>, or nothing at all: the key keeps its default.</summary>
    Null,

    /// <summary>A plain <c>true</c>/<c>false</c> in one of its three spellings.</summary>
    Bool,

    /// <summary>A plain integer (decimal, <c>0x</c>, <c>0o</c>, <c>0b</c>, or legacy leading-zero octal).</summary>
    Int,

    /// <summary>A plain floating-point number, <c>.inf</c> or <c>.nan</c>.</summary>
    Float,

    /// <summary>Anything else, and every quoted or block scalar.</summary>
    String,
}

/// <summary>
/// Resolves scalars the way upstream's YAML library (go-yaml v3) does when it decodes into typed
/// fields, so the same file is accepted or rejected here as there. The notable rules: quoting makes
/// a scalar a string (so <c>"true"</c> is not a boolean and <c>"10"</c> is not a number); boolean
/// fields additionally take YAML 1.1's <c>y/yes/on</c> and <c>n/no/off</c> spellings, quoted or not.
/// </summary>
internal static partial class YamlScalar
{
    private const string CoreTagPrefix = "tag:yaml.org,2002:";
    private const string StringTag = CoreTagPrefix + "str";

    /// <summary>The kind of <paramref name="node"/>.</summary>
    public static ScalarKind Resolve(YamlScalarNode node)
    {
        if (HasExplicitTag(node))
        {
            var tag = node.Tag.Value;
            if (tag == StringTag || !tag.StartsWith(CoreTagPrefix, StringComparison.Ordinal))
            {
                // go-yaml leaves the value of an unknown tag as its text.
                return ScalarKind.String;
            }
            return ResolvePlain(node.Value ?? "");
        }
        // The non-specific tag "!" forces a string, as quoting does.
        if (node.Tag.IsNonSpecific || node.Style is not YamlDotNet.Core.ScalarStyle.Plain)
        {
            return ScalarKind.String;
        }
        return ResolvePlain(node.Value ?? "");
    }

    /// <summary>
    /// True when the node is a string in go-yaml's eyes (tag <c>!!str</c>, explicit or resolved);
    /// upstream's <c>exec</c> accepts a scalar only then.
    /// </summary>
    public static bool IsStringTagged(YamlScalarNode node) =>
        HasExplicitTag(node) ? node.Tag.Value == StringTag : Resolve(node) == ScalarKind.String;

    /// <summary>Reads a boolean field's value, or returns false if the scalar is not one.</summary>
    public static bool TryGetBool(YamlScalarNode node, out bool value)
    {
        var text = node.Value ?? "";
        switch (Resolve(node))
        {
            case ScalarKind.Bool:
                value = text is "true" or "True" or "TRUE";
                return true;
            case ScalarKind.String:
                // go-yaml's YAML 1.1 compatibility for typed booleans; "true" as a string is not here.
                switch (text)
                {
                    case "y" or "Y" or "yes" or "Yes" or "YES" or "on" or "On" or "ON":
                        value = true;
                        return true;
                    case "n" or "N" or "no" or "No" or "NO" or "off" or "Off" or "OFF":
                        value = false;
                        return true;
                }
                break;
        }
        value = false;
        return false;
    }

    /// <summary>Reads an integer field's value: an integer, or a float truncated toward zero as go-yaml does.</summary>
    public static bool TryGetInt(YamlScalarNode node, out int value)
    {
        value = 0;
        var text = node.Value ?? "";
        switch (Resolve(node))
        {
            case ScalarKind.Int when TryParseInt(text, out var integer) && integer is >= int.MinValue and <= int.MaxValue:
                value = (int)integer;
                return true;
            case ScalarKind.Float when TryParseFloat(text, out var real) && Math.Truncate(real) is >= int.MinValue and <= int.MaxValue:
                value = (int)Math.Truncate(real);
                return true;
            default:
                return false;
        }
    }

    private static bool HasExplicitTag(YamlScalarNode node) => !node.Tag.IsEmpty && !node.Tag.IsNonSpecific;

    private static ScalarKind ResolvePlain(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return ScalarKind.Null;
            case "true" or "True" or "TRUE" or "false" or "False" or "FALSE":
                return ScalarKind.Bool;
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF" or "-.inf" or "-.Inf" or "-.INF" or ".nan" or ".NaN" or ".NAN":
                return ScalarKind.Float;
        }
        if (text[0] is not ('+' or '-' or '.') && !char.IsAsciiDigit(text[0]))
        {
            return ScalarKind.String;
        }
        if (TryParseInt(text, out _))
        {
            return ScalarKind.Int;
        }
        return TryParseFloat(text, out _) ? ScalarKind.Float : ScalarKind.String;
    }

    /// <summary>
    /// go-yaml's integers: underscores ignored, optional sign, then Go's base-prefixed literal
    /// (<c>0x</c>, <c>0o</c>, <c>0b</c>, or a leading <c>0</c> for octal) or decimal.
    /// </summary>
    private static bool TryParseInt(string text, out long value)
    {
        value = 0;
        var s = text.Replace("_", "", StringComparison.Ordinal).AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '+' || s[0] == '-'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        var radix = 10;
        if (s.Length > 2 && s[0] == '0' && (s[1] | 0x20) is 'x' or 'o' or 'b')
        {
            radix = (s[1] | 0x20) switch { 'x' => 16, 'o' => 8, _ => 2 };
            s = s[2..];
        }
        else if (s.Length > 1 && s[0] == '0')
        {
            radix = 8;
            s = s[1..];
        }
        if (s.IsEmpty)
        {
            return false;
        }
        ulong magnitude = 0;
        foreach (var c in s)
        {
            var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? (c | 0x20) - 'a' + 10 : int.MaxValue;
            if (digit >= radix || magnitude > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                return false;
            }
            magnitude = (magnitude * (ulong)radix) + (ulong)digit;
        }
        if (negative ? magnitude > 1UL << 63 : magnitude > long.MaxValue)
        {
            // go-yaml would take a uint64 here; no litefs.yml integer needs one.
            return false;
        }
        value = negative ? unchecked(-(long)magnitude) : (long)magnitude;
        return true;
    }

    private static bool TryParseFloat(string text, out double value)
    {
        value = 0;
        var plain = text.Replace("_", "", StringComparison.Ordinal);
        if (!YamlFloat().IsMatch(plain) && !text.StartsWith('.'))
        {
            return false;
        }
        return double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex YamlFloat();
}
