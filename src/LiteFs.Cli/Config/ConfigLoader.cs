using System.Text;

namespace LiteFs.Cli.Config;

/// <summary>A loaded configuration and where it came from.</summary>
/// <param name="Config">The parsed configuration (not yet validated: see <see cref="LiteFsConfig.Validate(ConfigLines)"/>).</param>
/// <param name="Path">The absolute path of the file read.</param>
/// <param name="FoundBySearch">
/// True when no path was given and the file was found by the search; upstream then prints
/// <c>config file read from &lt;path&gt;</c>.
/// </param>
/// <param name="Lines">Where each key of the file is, for <see cref="LiteFsConfig.Validate(ConfigLines)"/>'s messages.</param>
internal sealed record LoadedConfig(LiteFsConfig Config, string Path, bool FoundBySearch, ConfigLines Lines);

/// <summary>
/// Finds, reads, expands and parses <c>litefs.yml</c> as <c>litefs mount</c> does
/// (config-and-cli.md §1). Typical use:
/// <code>
/// var loaded = ConfigLoader.Load(configFlag, expandEnv: !noExpandEnv, Environment.GetEnvironmentVariable);
/// var config = loaded.Config with { ... flag overrides ... };
/// config.Validate();
/// </code>
/// </summary>
internal static class ConfigLoader
{
    /// <summary>The configuration file's name.</summary>
    public const string FileName = "litefs.yml";

    /// <summary>
    /// Upstream's search list: <c>litefs.yml</c> in the working directory, then in the user's home
    /// directory, then <c>/etc/litefs.yml</c>.
    /// </summary>
    public static IReadOnlyList<string> DefaultSearchPaths()
    {
        var paths = new List<string> { FileName };
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home))
        {
            paths.Add(Path.Combine(home, FileName));
        }
        paths.Add("/etc/" + FileName);
        return paths;
    }

    /// <summary>
    /// Loads the configuration. With <paramref name="explicitPath"/> (the <c>-config</c> flag) exactly
    /// that file is read and its errors are reported as they are, as upstream does
    /// (<c>open &lt;path&gt;: no such file or directory</c>). Otherwise the first existing file of
    /// <paramref name="searchPaths"/> (default <see cref="DefaultSearchPaths"/>; relative entries are
    /// taken from the working directory) is used, and errors read <c>config file not found</c>,
    /// <c>cannot read config file at &lt;path&gt;: …</c> or <c>cannot unmarshal config file at &lt;path&gt;: …</c>.
    /// </summary>
    /// <param name="explicitPath">The <c>-config</c> path, or null/empty to search.</param>
    /// <param name="expandEnv">Expand environment variables in the raw text first (false with <c>-no-expand-env</c>).</param>
    /// <param name="env">Variable lookup for the expansion; null for an unset variable.</param>
    /// <param name="searchPaths">The search list, for tests; null for upstream's.</param>
    /// <exception cref="ConfigException">No file, an unreadable file, or a file that does not parse.</exception>
    public static LoadedConfig Load(string? explicitPath, bool expandEnv, Func<string, string?> env, IReadOnlyList<string>? searchPaths = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            var bytes = ReadFile(explicitPath) ?? throw new ConfigException($"open {explicitPath}: no such file or directory");
            var config = Parse(bytes, Path.GetFileName(explicitPath), expandEnv, env, out var lines);
            return new LoadedConfig(config, Path.GetFullPath(explicitPath), FoundBySearch: false, lines);
        }

        foreach (var candidate in searchPaths ?? DefaultSearchPaths())
        {
            var path = Path.GetFullPath(candidate);
            byte[]? bytes;
            try
            {
                bytes = ReadFile(path);
            }
            catch (ConfigException ex)
            {
                throw new ConfigException($"cannot read config file at {path}: {ex.Message}");
            }
            if (bytes is null)
            {
                continue;
            }
            try
            {
                var config = Parse(bytes, Path.GetFileName(path), expandEnv, env, out var lines);
                return new LoadedConfig(config, path, FoundBySearch: true, lines);
            }
            catch (ConfigException ex)
            {
                throw new ConfigException($"cannot unmarshal config file at {path}: {ex.Message}");
            }
        }
        throw new ConfigException("config file not found");
    }

    /// <summary>
    /// Parses configuration text: environment expansion (when <paramref name="expandEnv"/>), then
    /// strict YAML mapping. <paramref name="fileName"/> labels the error messages.
    /// </summary>
    /// <exception cref="ConfigException">The text does not parse or does not fit the schema.</exception>
    public static LiteFsConfig Parse(string text, string fileName, bool expandEnv, Func<string, string?> env) =>
        Parse(text, fileName, expandEnv, env, out _);

    private static LiteFsConfig Parse(string text, string fileName, bool expandEnv, Func<string, string?> env, out ConfigLines lines)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(env);
        return ConfigParser.Parse(expandEnv ? EnvExpander.Expand(text, env) : text, fileName, out lines);
    }

    private static LiteFsConfig Parse(byte[] bytes, string fileName, bool expandEnv, Func<string, string?> env, out ConfigLines lines)
    {
        string text;
        try
        {
            text = Decode(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ConfigException($"{fileName}:{InvalidUtf8Line(bytes)}: invalid UTF-8 in the file (YAML files must be UTF-8 or UTF-16 text); re-save it as UTF-8");
        }
        return Parse(text, fileName, expandEnv, env, out lines);
    }

    /// <summary>
    /// Decodes the file strictly: UTF-8, or UTF-16 when it starts with a byte-order mark, as YAML
    /// allows. Invalid bytes are an error rather than silently replaced.
    /// </summary>
    /// <summary>The line holding the first byte that is not UTF-8 (1 when it cannot be told).</summary>
    private static int InvalidUtf8Line(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = stackalloc char[1024];
        var at = 0;
        while (at < bytes.Length)
        {
            var status = System.Text.Unicode.Utf8.ToUtf16(bytes[at..], chars, out var read, out _, replaceInvalidSequences: false);
            at += read;
            if (status is System.Buffers.OperationStatus.InvalidData or System.Buffers.OperationStatus.NeedMoreData)
            {
                return bytes[..at].Count((byte)'\n') + 1;
            }
            if (status == System.Buffers.OperationStatus.Done)
            {
                break;
            }
        }
        return 1;
    }

    private static string Decode(byte[] bytes)
    {
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            span = span[3..];
        }
        else if (span.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true).GetString(span[2..]);
        }
        else if (span.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true).GetString(span[2..]);
        }
        return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(span);
    }

    /// <summary>
    /// Reads a whole file; null when it does not exist. Other failures throw a
    /// <see cref="ConfigException"/> worded as Go's errors are, since they end up in the same
    /// messages upstream prints.
    /// </summary>
    private static byte[]? ReadFile(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                throw new ConfigException($"read {path}: is a directory");
            }
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            throw new ConfigException($"open {path}: permission denied");
        }
        catch (IOException ex)
        {
            throw new ConfigException($"open {path}: {ex.Message}");
        }
    }
}
