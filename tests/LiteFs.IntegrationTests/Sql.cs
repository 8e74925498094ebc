using Microsoft.Data.Sqlite;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>SQLite helpers: connections without pooling (closing really closes), and the sqlite3 CLI.</summary>
internal static class Sql
{
    public static SqliteConnection Open(string path, int timeoutSeconds = 30)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = timeoutSeconds }.ToString());
        connection.Open();
        Exec(connection, $"PRAGMA busy_timeout = {Math.Min(5000, timeoutSeconds * 1000)}");
        return connection;
    }

    /// <summary>A read-only connection (<c>Mode=ReadOnly</c>), as an application on a replica opens one.</summary>
    public static SqliteConnection OpenReadOnly(string path, int timeoutSeconds = 30)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
            DefaultTimeout = timeoutSeconds,
        }.ToString());
        connection.Open();
        Exec(connection, $"PRAGMA busy_timeout = {Math.Min(5000, timeoutSeconds * 1000)}");
        return connection;
    }

    public static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>
    /// The sqlite3 tool's busy timeout. Like every application on LiteFS it needs one: LiteFS
    /// itself holds SQLite locks for a moment (snapshots for replicas, applying replicated files).
    /// </summary>
    private const string BusyTimeout = ".timeout 10000";

    /// <summary>Runs SQL through the sqlite3 command-line tool; returns its output.</summary>
    public static string Cli(string database, string sql)
    {
        var (code, stdout, stderr) = ChildProcess.Run("sqlite3", ["-bail", "-cmd", BusyTimeout, database], stdin: sql, timeout: TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"sqlite3 failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>Runs SQL through the sqlite3 command-line tool (extra options first, e.g. -readonly) without judging the outcome.</summary>
    public static (int ExitCode, string Stdout, string Stderr) CliRun(string database, string sql, params string[] options) =>
        ChildProcess.Run("sqlite3", ["-bail", "-cmd", BusyTimeout, .. options, database], stdin: sql, timeout: TimeSpan.FromMinutes(2));
}
