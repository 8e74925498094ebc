using System.Globalization;
using LiteFs.Ltx;

namespace LiteFs.Cli;

/// <summary>The <c>litefs ltx</c> tools.</summary>
internal static class LtxCommands
{
    private const string Usage = """
        Usage: litefs ltx <command> [arguments]

        The commands are:

            dump FILE                             print an LTX file's header, page numbers and trailer
            list FILE...                          print one line of header fields per LTX file
            verify FILE...                        verify LTX files; exits non-zero if any is bad
            checksum DBFILE                       print a SQLite database file's rolling LTX checksum
            apply -o DBFILE FILE...               apply LTX files, in order, to a database file
            encode-db DBFILE -o FILE [-compress] [-txid N]
                                                  write a database as a snapshot LTX file
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            stderr.WriteLine(Usage);
            return CommandLine.UsageError;
        }
        var rest = args.AsSpan(1);
        return args[0] switch
        {
            "dump" => Dump(rest, stdout, stderr),
            "list" => List(rest, stdout, stderr),
            "verify" => Verify(rest, stdout, stderr),
            "checksum" => ChecksumCommand(rest, stdout, stderr),
            "apply" => Apply(rest, stdout, stderr),
            "encode-db" => EncodeDb(rest, stdout, stderr),
            "help" or "-h" or "--help" => Help(stdout),
            _ => throw new UsageException($"ltx: unknown command \"{args[0]}\"; run 'litefs ltx help'"),
        };
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine(Usage);
        return 0;
    }

    private static int Dump(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var path = Single(ArgParser.Parse("ltx dump", args, [], []), "ltx dump", "FILE");
        return Guard("ltx dump", path, stderr, () =>
        {
            using var file = OpenRead(path);
            using var decoder = new LtxDecoder(file);
            var header = decoder.ReadHeader();
            LtxText.WriteDumpHeader(stdout, header);
            var page = new byte[header.PageSize];
            for (var i = 0; decoder.ReadPage(out var ph, page); i++)
            {
                stdout.WriteLine($"Frame #{i}: pgno={ph.Pgno}");
            }
            LtxText.WriteDumpTrailer(stdout, decoder.Trailer);
        });
    }

    private static int List(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var paths = Many(ArgParser.Parse("ltx list", args, [], []), "ltx list", "FILE...");
        var rows = new List<string[]> { LtxText.ListColumns };
        var status = 0;
        foreach (var path in paths)
        {
            status |= Guard("ltx list", path, stderr, () =>
            {
                using var file = OpenRead(path);
                var (header, trailer, pages) = LtxDecoder.Verify(file);
                rows.Add(LtxText.ListRow(header, trailer, pages));
            });
        }
        LtxText.WriteTable(stdout, rows);
        return status;
    }

    private static int Verify(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var paths = Many(ArgParser.Parse("ltx verify", args, [], []), "ltx verify", "FILE...");
        var bad = 0;
        foreach (var path in paths)
        {
            try
            {
                using var file = OpenRead(path);
                var (header, trailer, pages) = LtxDecoder.Verify(file);
                var kind = header.Commit == 0 ? "deletion" : header.IsSnapshot ? "snapshot" : "incremental";
                stdout.WriteLine(
                    $"{path}: ok ({kind}, txid {header.MinTxId}-{header.MaxTxId}, {pages} pages of {header.PageSize}, commit {header.Commit}, " +
                    $"{(header.IsCompressed ? "lz4" : "uncompressed")}, post-apply {trailer.PostApplyChecksum})");
            }
            catch (Exception ex) when (IsInputError(ex))
            {
                stdout.WriteLine($"{path}: FAILED: {ex.Message}");
                bad++;
            }
        }
        if (bad > 0)
        {
            stderr.WriteLine($"litefs ltx verify: {bad} of {paths.Count} file(s) failed verification");
            return 1;
        }
        return 0;
    }

    private static int ChecksumCommand(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var path = Single(ArgParser.Parse("ltx checksum", args, [], []), "ltx checksum", "DBFILE");
        return Guard("ltx checksum", path, stderr, () =>
        {
            using var db = OpenRead(path);
            stdout.WriteLine(SqliteDatabase.ComputeChecksum(db, path).ToString());
        });
    }

    private static int Apply(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = ArgParser.Parse("ltx apply", args, ["o"], []);
        var dbPath = parsed.Value("o") ?? throw new UsageException("ltx apply: the database file is required: -o DBFILE");
        var paths = Many(parsed, "ltx apply", "FILE...");
        using var handle = File.OpenHandle(dbPath, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        LtxApplier? applier = null;
        var status = Guard("ltx apply", dbPath, stderr, () => applier = new LtxApplier(handle, dbPath));
        if (applier is null)
        {
            return status;
        }
        foreach (var path in paths)
        {
            status = Guard("ltx apply", path, stderr, () =>
            {
                using var file = OpenRead(path);
                applier.Apply(file, path);
            });
            if (status != 0)
            {
                stderr.WriteLine($"litefs ltx apply: stopped; {dbPath} is at position {applier.Position}");
                return status;
            }
        }
        RandomAccess.FlushToDisk(handle);
        stdout.WriteLine(applier.Position.ToString());
        return 0;
    }

    private static int EncodeDb(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        var parsed = ArgParser.Parse("ltx encode-db", args, ["o", "txid", "node-id"], ["compress"]);
        var dbPath = Single(parsed, "ltx encode-db", "DBFILE");
        var output = parsed.Value("o") ?? throw new UsageException("ltx encode-db: the output file is required: -o FILE");
        var txid = ParseTxId(parsed.Value("txid") ?? "1", "txid");
        var nodeId = ParseTxId(parsed.Value("node-id") ?? "0", "node-id").Value;
        var options = new LtxSnapshotOptions { Compress = parsed.Flag("compress", "ltx encode-db"), NodeId = nodeId, Name = dbPath };
        return Guard("ltx encode-db", dbPath, stderr, () =>
        {
            using var db = OpenRead(dbPath);
            var temp = output + ".tmp";
            LtxTrailer trailer;
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                trailer = LtxSnapshot.Write(db, file, txid, options);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, output, overwrite: true);
            stdout.WriteLine($"{output}: snapshot at txid {txid}, post-apply {trailer.PostApplyChecksum}");
        });
    }

    /// <summary>Parses a decimal number, <c>0x</c>-prefixed hex, or the 16-hex-digit form.</summary>
    private static TxId ParseTxId(string text, string flag)
    {
        if (TxId.TryParse(text, out var id))
        {
            return id;
        }
        var ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        return ok ? new TxId(value) : throw new UsageException($"invalid value \"{text}\" for -{flag}: want a decimal number, 0x-prefixed hex, or 16 hex digits");
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 64 * 1024, FileOptions.SequentialScan);

    private static string Single(ArgParser parsed, string command, string what) =>
        parsed.Positional.Count == 1 ? parsed.Positional[0] : throw new UsageException($"{command}: exactly one {what} argument required");

    private static IReadOnlyList<string> Many(ArgParser parsed, string command, string what) =>
        parsed.Positional.Count > 0 ? parsed.Positional : throw new UsageException($"{command}: {what} argument(s) required");

    /// <summary>Runs an action on one input; an input error is printed with the input's name and gives exit status 1.</summary>
    private static int Guard(string command, string path, TextWriter stderr, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception ex) when (IsInputError(ex))
        {
            stderr.WriteLine($"litefs {command}: {path}: {ex.Message}");
            return 1;
        }
    }

    private static bool IsInputError(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or InvalidDataException or FormatException or ArgumentException or InvalidOperationException;
}
