using LiteFs.TestKit;
using Microsoft.Data.Sqlite;

namespace LiteFs.Fuse.Tests;

/// <summary>POSIX record locks are delivered to the file system, which enforces them between owners and processes.</summary>
public sealed class LockTests : IDisposable
{
    private const int EAgain = 11;
    private readonly LoopbackMount _mount = new();

    public void Dispose() => _mount.Dispose();

    [Fact]
    public void OfdLocks_ConflictBetweenOwners_GetLkReportsHolder()
    {
        Assert.True(_mount.Mount.PosixLocksEnabled);
        File.WriteAllBytes(_mount.Path("l"), new byte[100]);
        using var first = File.Open(_mount.Path("l"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        using var second = File.Open(_mount.Path("l"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);

        Assert.Equal(0, Native.OfdLock(first.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 10, 5, out _));
        Assert.Equal(EAgain, Native.OfdLock(second.SafeFileHandle, Native.FOfdSetLk, Native.FRdLck, 12, 1, out _));
        // Outside the range there is no conflict, and shared locks share.
        Assert.Equal(0, Native.OfdLock(second.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 20, 1, out _));
        Assert.Equal(0, Native.OfdLock(first.SafeFileHandle, Native.FOfdGetLk, Native.FWrLck, 0, 0, out var reported));
        Assert.Equal(Native.FWrLck, reported.Type);
        Assert.Equal(20, reported.Start);
        Assert.Equal(1, reported.Len);

        // Downgrading to shared lets a reader in; unlocking lets a writer in.
        Assert.Equal(0, Native.OfdLock(first.SafeFileHandle, Native.FOfdSetLk, Native.FRdLck, 10, 5, out _));
        Assert.Equal(0, Native.OfdLock(second.SafeFileHandle, Native.FOfdSetLk, Native.FRdLck, 12, 1, out _));
        Assert.Equal(EAgain, Native.OfdLock(second.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 10, 1, out _));
        Assert.Equal(0, Native.OfdLock(first.SafeFileHandle, Native.FOfdSetLk, Native.FUnLck, 0, 0, out _));
        Assert.Equal(0, Native.OfdLock(second.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 10, 1, out _));
        Assert.Equal(0, Native.OfdLock(first.SafeFileHandle, Native.FOfdGetLk, Native.FRdLck, 0, 10, out reported));
        Assert.Equal(Native.FUnLck, reported.Type);
    }

    [Fact]
    public async Task SetLkW_WaitsForRelease_WithoutHoldingAReader()
    {
        File.WriteAllBytes(_mount.Path("w"), new byte[10]);
        using var holder = File.Open(_mount.Path("w"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        using var waiter = File.Open(_mount.Path("w"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Assert.Equal(0, Native.OfdLock(holder.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 0, 0, out _));

        var blocked = Task.Factory.StartNew(
            () => Native.OfdLock(waiter.SafeFileHandle, Native.FOfdSetLkW, Native.FWrLck, 0, 0, out _),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(300);
        Assert.False(blocked.IsCompleted, "F_SETLKW returned while a conflicting lock was held");

        // Ordinary requests still flow while the lock waits (it holds no reader thread).
        Assert.Equal(10, new FileInfo(_mount.Path("w")).Length);
        Assert.Equal(0, Native.OfdLock(holder.SafeFileHandle, Native.FOfdSetLk, Native.FUnLck, 0, 0, out _));
        Assert.Equal(0, await blocked.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(EAgain, Native.OfdLock(holder.SafeFileHandle, Native.FOfdSetLk, Native.FRdLck, 0, 0, out _));
    }

    [Fact]
    public void SetLkW_InterruptedBySignal_ReturnsEintr()
    {
        File.WriteAllBytes(_mount.Path("i"), new byte[10]);
        using var holder = File.Open(_mount.Path("i"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Assert.Equal(0, Native.OfdLock(holder.SafeFileHandle, Native.FOfdSetLk, Native.FWrLck, 0, 0, out _));

        // perl blocks in fcntl(F_SETLKW); its SIGINT handler is installed without SA_RESTART, so the
        // kernel sends FUSE_INTERRUPT and the lock request must end with EINTR.
        const string script = """
            use Fcntl; $| = 1;
            $SIG{INT} = sub { };
            open(my $fh, "+<", $ARGV[0]) or die "open: $!";
            print "waiting\n";
            my $lock = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0);
            if (fcntl($fh, F_SETLKW, $lock)) { print "locked\n"; } else { print "failed: ", ($!{EINTR} ? "EINTR" : "$!"), "\n"; }
            """;
        using var perl = ChildProcess.Start("perl", ["-e", script, _mount.Path("i")]);
        perl.WaitForOutput("waiting", TimeSpan.FromSeconds(30));
        Thread.Sleep(300); // Let perl reach fcntl; an earlier signal would only make it retry.
        perl.Signal(2);
        perl.WaitForOutput("failed", TimeSpan.FromSeconds(30));

        Assert.Contains("failed: EINTR", perl.Stdout, StringComparison.Ordinal);
        Assert.True(perl.WaitForExit(TimeSpan.FromSeconds(30)));
        // The interrupted request left no lock behind.
        Assert.Equal(0, Native.OfdLock(holder.SafeFileHandle, Native.FOfdGetLk, Native.FWrLck, 0, 0, out var reported));
        Assert.Equal(Native.FUnLck, reported.Type);
    }

    [Theory]
    [InlineData("delete", false)]
    [InlineData("delete", true)]
    [InlineData("wal", false)]
    [InlineData("wal", true)]
    public void ExclusiveTransaction_BlocksOtherProcess_UntilCommit(string journalMode, bool onMount)
    {
        using var bare = new TempDir("litefs-bare");
        var database = onMount ? _mount.Path("x.db") : Path.Combine(bare.Path, "x.db");
        using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        connection.Open();
        Execute(connection, $"PRAGMA journal_mode={journalMode}; CREATE TABLE t (v); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);");

        // In rollback mode an exclusive writer keeps readers out; in WAL mode it keeps writers out.
        var probe = journalMode == "wal" ? "BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT;" : "SELECT count(*) FROM t;";
        var blocked = Tools.Sqlite3(database, ".timeout 0\n" + probe + "\n");
        Assert.NotEqual(0, blocked.ExitCode);
        Assert.Contains("database is locked", blocked.Stderr, StringComparison.Ordinal);

        Execute(connection, "COMMIT;");
        var after = Tools.Sqlite3(database, ".timeout 0\n" + probe + "\nSELECT count(*) FROM t;\n");
        Assert.Equal(0, after.ExitCode);
        Assert.Equal(journalMode == "wal" ? "2\n" : "1\n1\n", after.Stdout);
    }

    [Theory]
    [InlineData("wal")]
    [InlineData("delete")]
    public void Sqlite3Processes_WriterAndReadersWithBusyTimeout_BehaveAsOnBareDirectory(string journalMode)
    {
        using var bare = new TempDir("litefs-bare");
        var expected = Contend(Path.Combine(bare.Path, "c.db"), journalMode);
        var actual = Contend(_mount.Path("c.db"), journalMode);
        Assert.Equal(expected, actual);
    }

    /// <summary>One writer and two readers in separate sqlite3 processes; returns what they agree on.</summary>
    private static string Contend(string database, string journalMode)
    {
        const int writes = 300;
        var setup = Tools.Sqlite3(database, $"PRAGMA journal_mode={journalMode};\nCREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);\n");
        Assert.Equal(0, setup.ExitCode);

        var writer = ".timeout 20000\n" + string.Concat(Enumerable.Repeat("BEGIN IMMEDIATE; INSERT INTO t (v) VALUES (randomblob(200)); COMMIT;\n", writes))
            + "SELECT 'written', count(*) FROM t;\n";
        var reader = ".timeout 20000\n" + string.Concat(Enumerable.Repeat("SELECT count(*) FROM t;\n", 200));
        using var writerProcess = ChildProcess.Start("sqlite3", ["-batch", database]);
        using var reader1 = ChildProcess.Start("sqlite3", ["-batch", database]);
        using var reader2 = ChildProcess.Start("sqlite3", ["-batch", database]);
        writerProcess.WriteStdin(writer);
        reader1.WriteStdin(reader);
        reader2.WriteStdin(reader);
        foreach (var process in new[] { writerProcess, reader1, reader2 })
        {
            process.CloseStdin();
        }
        foreach (var process in new[] { writerProcess, reader1, reader2 })
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "a sqlite3 process did not finish");
            Assert.True(process.ExitCode == 0 && process.Stderr.Length == 0, $"sqlite3 failed on {database}: {process.Stderr}");
        }
        foreach (var process in new[] { reader1, reader2 })
        {
            var counts = process.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            Assert.Equal(200, counts.Count);
            // Every reader saw a consistent, growing table.
            Assert.True(counts.Zip(counts.Skip(1)).All(pair => pair.First <= pair.Second), "a reader saw the row count go backwards");
            Assert.InRange(counts[^1], 0, writes);
        }
        var check = Tools.Sqlite3(database, "PRAGMA integrity_check;\nSELECT count(*) FROM t;\n");
        return $"{writerProcess.Stdout.Trim()} / {check.Stdout.Replace('\n', ' ').Trim()}";
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
