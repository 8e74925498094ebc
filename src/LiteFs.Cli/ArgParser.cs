namespace LiteFs.Cli;

/// <summary>
/// Parses flags the way upstream's Go commands accept them: <c>-name value</c>,
/// <c>-name=value</c>, with one or two dashes, booleans without a value, and <c>--</c> ending
/// the flags. Everything else is a positional argument.
/// </summary>
internal sealed class ArgParser
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly List<string> _positional = [];

    private ArgParser()
    {
    }

    public IReadOnlyList<string> Positional => _positional;

    /// <summary>Parses <paramref name="args"/>; <paramref name="valueFlags"/> take a value, <paramref name="boolFlags"/> do not.</summary>
    public static ArgParser Parse(string command, ReadOnlySpan<string> args, string[] valueFlags, string[] boolFlags)
    {
        var parser = new ArgParser();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                parser._positional.AddRange(args[(i + 1)..]);
                break;
            }
            if (arg.Length < 2 || arg[0] != '-')
            {
                parser._positional.Add(arg);
                continue;
            }
            var name = arg.TrimStart('-');
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            if (Array.IndexOf(valueFlags, name) >= 0)
            {
                if (value is null)
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new UsageException($"{command}: flag needs an argument: -{name}");
                    }
                    value = args[++i];
                }
                parser._values[name] = value;
            }
            else if (Array.IndexOf(boolFlags, name) >= 0)
            {
                parser._values[name] = value ?? "true";
            }
            else
            {
                throw new UsageException($"{command}: flag provided but not defined: -{name}");
            }
        }
        return parser;
    }

    public string? Value(string name) => _values.GetValueOrDefault(name);

    public bool Flag(string name, string command) => Value(name) switch
    {
        null => false,
        "true" or "1" => true,
        "false" or "0" => false,
        var v => throw new UsageException($"{command}: invalid boolean value \"{v}\" for -{name}"),
    };
}
