using System.Text;
using System.Text.RegularExpressions;

namespace LiteFs.Cli.Config;

/// <summary>
/// Environment-variable expansion of the raw <c>litefs.yml</c> text (config-and-cli.md §2): Go's
/// <c>os.Expand</c> rules, character for character, with upstream's comparison forms inside
/// braces: <c>${A == "x"}</c>, <c>${A != 'x'}</c> and <c>${A == B}</c> become <c>true</c> or
/// <c>false</c>.
/// </summary>
internal static partial class EnvExpander
{
    /// <summary>
    /// Expands every <c>$</c> form in <paramref name="text"/>, comments included. <paramref name="env"/>
    /// returns a variable's value, or null when it is unset (which expands as empty).
    /// </summary>
    public static string Expand(string text, Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(env);
        StringBuilder? output = null;
        var copied = 0;
        // As in os.Expand, a '$' in the last position is never looked at, so it stays.
        for (var j = 0; j < text.Length - 1; j++)
        {
            if (text[j] != '$')
            {
                continue;
            }
            output ??= new StringBuilder(text.Length * 2);
            output.Append(text, copied, j - copied);
            var (name, width) = ShellName(text.AsSpan(j + 1));
            if (name is null)
            {
                // "$" followed by something that is not a name: keep the dollar sign.
                output.Append('$');
            }
            else if (name.Length > 0)
            {
                output.Append(Evaluate(name, env));
            }
            // else: "${}" or an unterminated "${", which os.Expand eats.
            j += width;
            copied = j + 1;
        }
        return output is null ? text : output.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>
    /// What follows a <c>$</c>: the variable name (empty for the syntax errors os.Expand eats,
    /// null when there is no name at all) and how many characters it spans.
    /// </summary>
    private static (string? Name, int Width) ShellName(ReadOnlySpan<char> s)
    {
        if (s[0] == '{')
        {
            if (s.Length > 2 && IsShellSpecial(s[1]) && s[2] == '}')
            {
                return (s.Slice(1, 1).ToString(), 3);
            }
            var close = s.IndexOf('}');
            return close switch
            {
                < 0 => ("", 1),    // "${" never closed: eat the two characters
                1 => ("", 2),      // "${}": eat it
                _ => (s[1..close].ToString(), close + 1),
            };
        }
        if (IsShellSpecial(s[0]))
        {
            return (s[..1].ToString(), 1);
        }
        var length = 0;
        while (length < s.Length && IsNameChar(s[length]))
        {
            length++;
        }
        return length == 0 ? (null, 0) : (s[..length].ToString(), length);
    }

    private static string Evaluate(string expression, Func<string, string?> env)
    {
        // Go's strings.TrimSpace and .NET's Trim agree on what white space is (Unicode White_Space).
        var v = expression.Trim();
        var match = SingleQuoteComparison().Match(v);
        if (!match.Success)
        {
            match = DoubleQuoteComparison().Match(v);
        }
        if (match.Success)
        {
            return Compare(Lookup(env, match.Groups[1].Value), match.Groups[2].Value, match.Groups[3].Value);
        }
        match = VariableComparison().Match(v);
        if (match.Success)
        {
            return Compare(Lookup(env, match.Groups[1].Value), match.Groups[2].Value, Lookup(env, match.Groups[3].Value));
        }
        return Lookup(env, v);
    }

    private static string Compare(string left, string op, string right) =>
        (op == "==") == string.Equals(left, right, StringComparison.Ordinal) ? "true" : "false";

    private static string Lookup(Func<string, string?> env, string name) => env(name) ?? "";

    private static bool IsShellSpecial(char c) => c is '*' or '#' or '$' or '@' or '!' or '?' or '-' || char.IsAsciiDigit(c);

    private static bool IsNameChar(char c) => c == '_' || char.IsAsciiLetterOrDigit(c);

    // Go's RE2 classes spelled out: \w is [0-9A-Za-z_] and \s is [\t\n\f\r ], both ASCII-only,
    // and Go's $ (without the m flag) is the end of the text, which is .NET's \z.
    [GeneratedRegex(@"^([0-9A-Za-z_]+)[\t\n\f\r ]*(==|!=)[\t\n\f\r ]*'(.*)'\z", RegexOptions.CultureInvariant)]
    private static partial Regex SingleQuoteComparison();

    [GeneratedRegex(@"^([0-9A-Za-z_]+)[\t\n\f\r ]*(==|!=)[\t\n\f\r ]*""(.*)""\z", RegexOptions.CultureInvariant)]
    private static partial Regex DoubleQuoteComparison();

    [GeneratedRegex(@"^([0-9A-Za-z_]+)[\t\n\f\r ]*(==|!=)[\t\n\f\r ]*([0-9A-Za-z_]+)\z", RegexOptions.CultureInvariant)]
    private static partial Regex VariableComparison();
}
