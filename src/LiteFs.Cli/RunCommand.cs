using System.Diagnostics;
using LiteFs.Core;
using LiteFs.Http;

namespace LiteFs.Cli;

/// <summary>
/// <c>litefs run [-url URL] [-promote] [-if-candidate] [-with-halt-lock-on PATH] [-v] -- CMD [ARG...]</c>:
/// runs a command against the local node: only on a candidate, after making the node primary,
/// or while holding a database's HALT lock (its writes are forwarded to the primary), e.g. a
/// migration on any node.
/// </summary>
internal static class RunCommand
{
    private const string Usage = """
        The run command executes a subcommand for remote writes or promotion.

        Usage:

            litefs run [arguments] -- CMD [ARG...]

        Arguments:

            -url URL
                URL of the local LiteFS node API (default "http://localhost:20202")
            -promote
                Promote the local node to primary before running the command
            -if-candidate
                Only run the command if the local node is a candidate
            -with-halt-lock-on PATH
                Full path of a database in the mount: hold its HALT lock while the command runs
            -v
                Verbose output
        """;

    /// <summary>Runs the command; returns the exit status (errors as <c>ERROR: ...</c>, status 1).</summary>
    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var dashDash = args.IndexOf("--");
        var flagArgs = dashDash >= 0 ? args[..dashDash] : args;
        var command = dashDash >= 0 ? args[(dashDash + 1)..].ToArray() : [];
        ArgParser parsed;
        try
        {
            if (flagArgs.Contains("-h") || flagArgs.Contains("-help") || flagArgs.Contains("--help"))
            {
                stderr.WriteLine(Usage);
                return CommandLine.UsageError;
            }
            parsed = ArgParser.Parse("run", flagArgs, ["url", "with-halt-lock-on"], ["promote", "if-candidate", "v"]);
        }
        catch (UsageException ex)
        {
            stderr.WriteLine(ex.Message);
            stderr.WriteLine(Usage);
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
        if (command.Length == 0)
        {
            stderr.WriteLine(Usage);
            return CommandLine.UsageError;
        }
        if (parsed.Positional.Count > 0)
        {
            stderr.WriteLine("ERROR: too many arguments, specify a '--' to specify an exec command");
            return 1;
        }
        var url = parsed.Value("url") ?? "http://localhost:20202";
        var promote = parsed.Flag("promote", "run");
        var ifCandidate = parsed.Flag("if-candidate", "run");
        var haltPath = parsed.Value("with-halt-lock-on");
        var verbose = parsed.Flag("v", "run");
        try
        {
            if (promote && haltPath is not null)
            {
                throw new LiteFsException("cannot specify both -promote & -with-halt-lock-on");
            }
            if (ifCandidate || promote)
            {
                using var client = new NodeClient();
                var info = client.GetInfoAsync(url).GetAwaiter().GetResult();
                if (ifCandidate && !info.Candidate)
                {
                    stderr.WriteLine("node is not a candidate, skipping execution");
                    return 0;
                }
                if (promote && !info.IsPrimary)
                {
                    if (verbose)
                    {
                        stderr.WriteLine($"promoting {url} to primary");
                    }
                    client.PromoteAsync(url).GetAwaiter().GetResult();
                }
            }
            using var halt = haltPath is null ? null : AcquireHalt(haltPath, verbose, stderr);
            var status = RunChild(command);
            if (status != 0)
            {
                throw new LiteFsException($"exit status {status}");
            }
            return 0;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException or HttpRequestException or System.ComponentModel.Win32Exception)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
    }

    /// <summary>Takes the HALT lock of the database at <paramref name="path"/> in a mount; the child processes inherit the lock file.</summary>
    private static HaltLockFile AcquireHalt(string path, bool verbose, TextWriter stderr)
    {
        if (!File.Exists(path))
        {
            throw new LiteFsException($"database does not exist: {path}");
        }
        if (verbose)
        {
            stderr.WriteLine($"acquiring HALT lock on {path}");
        }
        try
        {
            var halt = HaltLockFile.Acquire(path + "-lock", inheritable: true);
            if (verbose)
            {
                stderr.WriteLine($"HALT lock acquired on {path}");
            }
            return halt;
        }
        catch (FileNotFoundException)
        {
            throw new LiteFsException($"lock file not available, are you sure \"{Path.GetDirectoryName(path)}\" is a LiteFS mount?");
        }
    }

    /// <summary>Runs the command with this process's standard streams; returns its exit status.</summary>
    private static int RunChild(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var arg in command.AsSpan(1))
        {
            start.ArgumentList.Add(arg);
        }
        using var child = Process.Start(start) ?? throw new LiteFsException($"cannot start {command[0]}");
        child.WaitForExit();
        return child.ExitCode;
    }
}
