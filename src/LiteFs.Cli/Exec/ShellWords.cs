using System.Text;

namespace LiteFs.Cli.Exec;

/// <summary>
/// Splits a command line into words by shell quoting rules, without a shell: whitespace
/// separates words; single quotes keep everything literally; inside double quotes and outside
/// quotes a backslash makes the next character literal. No variable expansion, no globbing.
/// </summary>
internal static class ShellWords
{
    public static IReadOnlyList<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        var escaped = false;
        char quote = '\0';
        foreach (var c in line)
        {
            if (escaped)
            {
                word.Append(c);
                escaped = false;
                inWord = true;
                continue;
            }
            if (c == '\\' && quote != '\'')
            {
                escaped = true;
                inWord = true;
                continue;
            }
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    word.Append(c);
                }
                continue;
            }
            if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                continue;
            }
            word.Append(c);
            inWord = true;
        }
        if (quote != '\0' || escaped)
        {
            throw new FormatException($"invalid command line string: {(escaped ? "trailing backslash" : $"unterminated {quote} quote")} in \"{line}\"");
        }
        if (inWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    /// <summary>
    /// Joins words into a command line that <see cref="Split"/> turns back into the same words,
    /// quoting those that need it.
    /// </summary>
    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%".Contains(c, StringComparison.Ordinal))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
