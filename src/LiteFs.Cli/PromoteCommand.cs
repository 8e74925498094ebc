using LiteFs.Core;
using LiteFs.Http;

namespace LiteFs.Cli;

/// <summary>
/// <c>litefs promote [-url URL]</c>: makes the node at URL (the local node by default) primary
/// through a handoff: it asks its primary for the lease (<c>POST /promote</c>), and the primary
/// stops writing, sends it every transaction, then the lease. Ends once the node is primary.
/// </summary>
internal static class PromoteCommand
{
    private const string Usage = """
        The promote command makes a node the primary through a handoff from the current primary.

        Usage:

            litefs promote [arguments]

        Arguments:

            -url URL
                URL of the LiteFS node API to promote (default "http://localhost:20202")
        """;

    /// <summary>How long the node may take to show itself primary after the handoff was answered.</summary>
    private static readonly TimeSpan PrimaryWait = TimeSpan.FromSeconds(10);

    /// <summary>Runs the command; returns the exit status (errors as <c>ERROR: ...</c>, status 1; usage errors 2).</summary>
    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Contains("-h") || args.Contains("-help") || args.Contains("--help"))
        {
            stderr.WriteLine(Usage);
            return CommandLine.UsageError;
        }
        ArgParser parsed;
        try
        {
            parsed = ArgParser.Parse("promote", args, ["url"], []);
        }
        catch (UsageException ex)
        {
            stderr.WriteLine(Usage);
            stderr.WriteLine($"ERROR: {ex.Message}");
            return CommandLine.UsageError;
        }
        if (parsed.Positional.Count > 0)
        {
            stderr.WriteLine($"ERROR: unexpected argument \"{parsed.Positional[0]}\"");
            return CommandLine.UsageError;
        }
        var url = parsed.Value("url") ?? "http://localhost:20202";
        try
        {
            using var client = new NodeClient();
            if (client.GetInfoAsync(url).GetAwaiter().GetResult().IsPrimary)
            {
                stdout.WriteLine($"{url} is already primary");
                return 0;
            }
            client.PromoteAsync(url).GetAwaiter().GetResult();
            // A node of this implementation answers once it is primary; an upstream node once
            // its primary accepted the handoff.
            var until = DateTime.UtcNow + PrimaryWait;
            while (!client.GetInfoAsync(url).GetAwaiter().GetResult().IsPrimary)
            {
                if (DateTime.UtcNow >= until)
                {
                    throw new LiteFsException($"{url} accepted the promotion but is not primary after {PrimaryWait.TotalSeconds:0}s");
                }
                Thread.Sleep(10);
            }
            stdout.WriteLine($"{url} is now primary");
            return 0;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException or HttpRequestException)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
    }
}
