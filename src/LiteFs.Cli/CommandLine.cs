using System.Reflection;

namespace LiteFs.Cli;

/// <summary>Dispatches the litefs command line to its commands.</summary>
internal static class CommandLine
{
    /// <summary>Exit status for a malformed command line (as Go's flag package uses).</summary>
    public const int UsageError = 2;

    private const string Usage = """
        litefs is a distributed file system for replicating SQLite databases.

        Usage:

            litefs <command> [arguments]

        The commands are:

            export       export a database from a node as a SQLite file
            import       import a SQLite file as a database, through the primary
            mount        mount the file system and run the node
            promote      make a node the primary through a handoff from the current primary
            run          run a command with the HALT lock, after promotion, or only on a candidate
            ltx          inspect, verify, apply and build LTX files
            recover      make a new LTX history from a database as it is (node stopped)
            version      prints the version
            help         shows this text
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            stderr.WriteLine(Usage);
            return UsageError;
        }
        try
        {
            return args[0] switch
            {
                "ltx" => LtxCommands.Run(args[1..], stdout, stderr),
                "mount" => MountCommand.Run(args.AsSpan(1), stdout, stderr),
                "run" => RunCommand.Run(args.AsSpan(1), stdout, stderr),
                "promote" => PromoteCommand.Run(args.AsSpan(1), stdout, stderr),
                "import" => TransferCommands.Import(args.AsSpan(1), stdout, stderr),
                "export" => TransferCommands.Export(args.AsSpan(1), stdout, stderr),
                "recover" => RecoverCommand.Run(args.AsSpan(1), stdout, stderr),
                "version" or "-version" or "--version" => Version(stdout),
                "help" or "-h" or "-help" or "--help" => Help(stdout),
                _ => Unknown(args[0], stderr),
            };
        }
        catch (UsageException ex)
        {
            stderr.WriteLine($"litefs: {ex.Message}");
            return UsageError;
        }
    }

    /// <summary>
    /// The version text: ours with the commit it was built from (when built from a git checkout),
    /// and the upstream versions we are compatible with.
    /// </summary>
    public static string VersionText { get; } = FormatVersion(
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

    /// <summary>"1.0.0+COMMIT" (the SDK appends the source revision) as "1.0.0, commit COMMIT".</summary>
    internal static string FormatVersion(string? informational)
    {
        var text = informational ?? "unknown";
        var plus = text.IndexOf('+', StringComparison.Ordinal);
        var version = plus < 0 ? text : $"{text[..plus]}, commit {text[(plus + 1)..]}";
        return $"LiteFS for .NET {version} (compatible with LiteFS v0.5.14, LTX v0.3.14)";
    }

    private static int Version(TextWriter stdout)
    {
        stdout.WriteLine(VersionText);
        return 0;
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine(Usage);
        return 0;
    }

    private static int Unknown(string command, TextWriter stderr)
    {
        stderr.WriteLine($"litefs: unknown command \"{command}\"");
        stderr.WriteLine("Run 'litefs help' for usage.");
        return UsageError;
    }
}

/// <summary>The command line is malformed; the message says how.</summary>
internal sealed class UsageException(string message) : Exception(message);
