namespace LiteFs.Cli;

/// <summary>Dispatches the litefs command line to its commands.</summary>
internal static class CommandLine
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            stderr.WriteLine("usage: litefs <command> [arguments]");
            return 2;
        }
        stdout.WriteLine(args[0]);
        return 0;
    }
}
