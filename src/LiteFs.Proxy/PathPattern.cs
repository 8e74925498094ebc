namespace LiteFs.Proxy;

/// <summary>
/// A <c>passthrough</c>/<c>always-forward</c> pattern (proxy.md §3): matches the whole URL path,
/// <c>*</c> is any run of characters (<c>/</c> and the empty run included), every other character
/// matches itself. Equivalent to upstream's <c>^</c> + quoted pattern with <c>*</c> as <c>.*</c> + <c>$</c>,
/// without a regular expression engine.
/// </summary>
public sealed class PathPattern
{
    private readonly string[] _literals;

    private PathPattern(string text)
    {
        Text = text;
        _literals = text.Split('*');
    }

    /// <summary>The pattern as configured.</summary>
    public string Text { get; }

    /// <summary>
    /// Parses a pattern. Every string is a valid pattern (upstream quotes every character but
    /// <c>*</c>, so its compile step cannot fail); null is not.
    /// </summary>
    public static bool TryParse(string? text, out PathPattern? pattern)
    {
        pattern = text is null ? null : new PathPattern(text);
        return pattern is not null;
    }

    /// <summary>Whether the pattern matches all of <paramref name="path"/>.</summary>
    public bool IsMatch(ReadOnlySpan<char> path)
    {
        if (_literals.Length == 1)
        {
            return path.SequenceEqual(_literals[0]);
        }
        // Literal runs between stars: the first must be a prefix, the last a suffix, and the ones
        // between found left to right (greedy leftmost is exact for a single wildcard kind).
        var first = _literals[0];
        var last = _literals[^1];
        if (path.Length < first.Length + last.Length || !path.StartsWith(first) || !path.EndsWith(last))
        {
            return false;
        }
        var rest = path[first.Length..^last.Length];
        for (var i = 1; i < _literals.Length - 1; i++)
        {
            var at = rest.IndexOf(_literals[i]);
            if (at < 0)
            {
                return false;
            }
            rest = rest[(at + _literals[i].Length)..];
        }
        return true;
    }

    /// <summary>Whether any of <paramref name="patterns"/> matches <paramref name="path"/>.</summary>
    public static bool AnyMatch(IReadOnlyList<PathPattern> patterns, ReadOnlySpan<char> path)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.IsMatch(path))
            {
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
