using System.Diagnostics;
using LiteFs.Cli.Config;
using LiteFs.Core;
using LiteFs.Core.Sqlite;
using LiteFs.Http;

namespace LiteFs.Cli;

/// <summary>
/// <c>litefs import [-url URL] -name NAME PATH</c> and <c>litefs export [-url URL] -name NAME PATH</c>:
/// a SQLite database file into the cluster through the primary, and a node's database out as a
/// plain SQLite file. Both stream (memory does not grow with the file) and show progress when
/// standard error is a terminal.
/// </summary>
internal static class TransferCommands
{
    private const string DefaultUrl = "http://localhost:20202";

    private const string ImportUsage = """
        The import command uploads a SQLite database file to the primary, replacing the database
        of that name on every node.

        Usage:

            litefs import [arguments] PATH

        Arguments:

            -name NAME
                Name of the database in the mount
            -url URL
                URL of the primary's API (default "http://localhost:20202")
        """;

    private const string ExportUsage = """
        The export command downloads a database from a node as a plain SQLite file.

        Usage:

            litefs export [arguments] PATH

        Arguments:

            -name NAME
                Name of the database in the mount
            -url URL
                URL of the node's API (default "http://localhost:20202")
        """;

    public static int Import(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse("import", ImportUsage, args, stderr, out var url, out var name, out var path, out var status))
        {
            return status;
        }
        try
        {
            if (!File.Exists(path))
            {
                throw new LiteFsException($"no such file: {path}");
            }
            // Checked here first: a file that is not a whole database is not worth uploading.
            if (DatabaseHeader.CheckFile(path) is { } problem)
            {
                throw new LiteFsException($"cannot import {path}: {problem}");
            }
            var watch = Stopwatch.StartNew();
            using var client = new NodeClient();
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            using (var progress = new ProgressStream(file, file.Length, "uploaded", stderr))
            {
                client.ImportAsync(url, name, progress).GetAwaiter().GetResult();
            }
            stdout.WriteLine($"Import of database \"{name}\" in {GoDuration.Format(watch.Elapsed)}");
            return 0;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
    }

    public static int Export(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParse("export", ExportUsage, args, stderr, out var url, out var name, out var path, out var status))
        {
            return status;
        }
        try
        {
            // As upstream: the old file and its companions go first, so no stale journal or WAL
            // is ever read with the new database.
            foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" })
            {
                File.Delete(path + suffix);
            }
            var watch = Stopwatch.StartNew();
            var temp = path + ".tmp";
            using var client = new NodeClient();
            try
            {
                using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    using (var progress = new ProgressStream(file, -1, "downloaded", stderr))
                    {
                        client.ExportAsync(url, name, progress).GetAwaiter().GetResult();
                    }
                    file.Flush(flushToDisk: true);
                }
                File.Move(temp, path);
            }
            catch
            {
                File.Delete(temp);
                throw;
            }
            Durability.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            stdout.WriteLine($"Export of database \"{name}\" in {GoDuration.Format(watch.Elapsed)}");
            return 0;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"ERROR: {ex.Message}");
            return 1;
        }
    }

    private static bool TryParse(string command, string usage, ReadOnlySpan<string> args, TextWriter stderr,
        out string url, out string name, out string path, out int status)
    {
        (url, name, path, status) = (DefaultUrl, "", "", 0);
        if (args.Contains("-h") || args.Contains("-help") || args.Contains("--help"))
        {
            stderr.WriteLine(usage);
            status = CommandLine.UsageError;
            return false;
        }
        ArgParser parsed;
        try
        {
            parsed = ArgParser.Parse(command, args, ["url", "name"], []);
        }
        catch (UsageException ex)
        {
            stderr.WriteLine(ex.Message);
            stderr.WriteLine(usage);
            stderr.WriteLine($"ERROR: {ex.Message}");
            status = 1;
            return false;
        }
        if (parsed.Positional.Count == 0)
        {
            stderr.WriteLine(usage);
            status = CommandLine.UsageError;
            return false;
        }
        if (parsed.Positional.Count > 1)
        {
            stderr.WriteLine("ERROR: too many arguments");
            status = 1;
            return false;
        }
        url = parsed.Value("url") ?? DefaultUrl;
        name = parsed.Value("name") ?? "";
        path = parsed.Positional[0];
        return true;
    }

    /// <summary>Passes bytes through, counting them, and shows the count on a terminal at most four times a second.</summary>
    private sealed class ProgressStream(Stream inner, long total, string verb, TextWriter terminal) : Stream
    {
        private readonly bool _show = !Console.IsErrorRedirected;
        private readonly Stopwatch _since = Stopwatch.StartNew();
        private long _done;
        private long _shownAt;
        private bool _shown;

        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => total >= 0 ? total : throw new NotSupportedException();

        public override long Position
        {
            get => _done;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count(count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count(buffer.Length);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Count(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private int Count(int n)
        {
            _done += n;
            var now = _since.ElapsedMilliseconds;
            if (_show && (now - _shownAt >= 250 || (n == 0 && _shown)))
            {
                _shownAt = now;
                _shown = true;
                var of = total >= 0 ? $" of {total / 1048576.0:0.0} MiB" : "";
                terminal.Write($"\r{_done / 1048576.0:0.0} MiB{of} {verb}   ");
                if (n == 0)
                {
                    terminal.WriteLine();
                }
            }
            return n;
        }
    }
}
