namespace LiteFs.Cli.Config;

/// <summary>
/// Where each key of a parsed <c>litefs.yml</c> was written, so that a check made after parsing
/// (<see cref="LiteFsConfig.Validate(ConfigLines)"/>) still names the line to fix. Keys are full dotted paths
/// (<c>proxy.db</c>); a section's own key (<c>proxy</c>) is there too, for errors about a key the
/// section lacks.
/// </summary>
internal sealed class ConfigLines
{
    private readonly string _fileName;
    private readonly Dictionary<string, long> _lines;

    /// <summary>No file: the built-in configuration, or a configuration made in code.</summary>
    public static ConfigLines None { get; } = new("", []);

    public ConfigLines(string fileName, Dictionary<string, long> lines)
    {
        _fileName = fileName;
        _lines = lines;
    }

    /// <summary>
    /// The prefix of an error about the first of <paramref name="paths"/> the file sets:
    /// <c>litefs.yml:12: </c>; <c>litefs.yml: </c> when it sets none of them; empty with no file.
    /// </summary>
    public string At(params ReadOnlySpan<string> paths)
    {
        if (_fileName.Length == 0)
        {
            return "";
        }
        foreach (var path in paths)
        {
            if (_lines.TryGetValue(path, out var line))
            {
                return $"{_fileName}:{line}: ";
            }
        }
        return $"{_fileName}: ";
    }
}
