using LiteFs.Cli.Config;
using LiteFs.Core;

namespace LiteFs.Cli;

/// <summary>
/// <c>litefs recover -name DB [-config PATH]</c>: with the node stopped, makes a new LTX history
/// for one database from its database file as it is (a snapshot after the highest TXID it ever
/// used), keeping the previous LTX files in <c>dbs/DB/ltx.replaced.TIME/</c>. For the cases
/// <c>litefs mount</c> refuses because it cannot tell what was committed; run on the primary's
/// data, once its database file is the one to keep. Every replica then takes it whole.
/// </summary>
internal static class RecoverCommand
{
    private const string Usage = """
        Usage: litefs recover -name DB [-config PATH] [-no-expand-env]

        With the node stopped, records the primary's database DB as it is as a new
        snapshot and makes it the start of the database's LTX history; replicas
        receive it whole. The previous LTX files are kept in dbs/DB/ltx.replaced.TIME/.
        Use it when 'litefs mount' refuses a database whose history cannot tell what
        was committed, once the database file is the copy to keep.
        """;

    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = ArgParser.Parse("recover", args, ["name", "config"], ["no-expand-env", "help", "h"]);
        if (parsed.Flag("help", "recover") || parsed.Flag("h", "recover"))
        {
            stdout.WriteLine(Usage);
            return 0;
        }
        if (parsed.Positional.Count > 0)
        {
            throw new UsageException($"recover: unexpected argument \"{parsed.Positional[0]}\"; the database is given with -name");
        }
        var name = parsed.Value("name");
        if (string.IsNullOrEmpty(name))
        {
            throw new UsageException("recover: database name required (-name DB)");
        }

        LiteFsConfig config;
        try
        {
            var loaded = ConfigLoader.Load(parsed.Value("config"), !parsed.Flag("no-expand-env", "recover"), Environment.GetEnvironmentVariable);
            config = loaded.Config;
            stdout.WriteLine($"config file read from {loaded.Path}");
        }
        catch (ConfigException ex)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return CommandLine.UsageError;
        }

        using var log = new ConsoleLoggerProvider(stderr, config.Log.Debug, config.Log.Timestamp);
        try
        {
            // The history is the primary's to make: the store is opened as a primary whatever
            // this node's lease says, and only the named database is touched.
            using var store = new Store(new StoreOptions
            {
                DataDir = config.Data.Dir,
                Compress = config.Data.Compress,
                Lease = new StaticLease(true, config.Lease.Hostname, config.Lease.AdvertiseUrl),
                RetentionMonitorInterval = TimeSpan.Zero,
            }, log);
            var (pos, setAside) = store.RecoverHistory(name);
            stdout.WriteLine($"database {name}: new history from a snapshot of the database at position {pos}");
            stdout.WriteLine(setAside is null
                ? "there were no previous LTX files"
                : $"previous LTX files kept in {setAside}; remove them once they are not needed");
            if (!config.Lease.Candidate)
            {
                stdout.WriteLine("note: this node's config is a replica's (lease.candidate: false); its copy is replaced by the primary's when it connects");
            }
            return 0;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
    }
}
