using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace LiteFs.Fuse.Tests;

/// <summary>A deterministic SQLite workload and a digest of its outcome, to compare a mount with a bare directory.</summary>
internal static class SqliteWorkload
{
    /// <summary>
    /// Runs <paramref name="transactions"/> write transactions (inserts, updates, deletes, with reads
    /// in between) on a new database in <paramref name="directory"/>; returns the digest of the final rows.
    /// </summary>
    public static string Run(string directory, string journalMode, string synchronous, int transactions)
    {
        var path = Path.Combine(directory, "workload.db");
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false };
        using (var connection = new SqliteConnection(builder.ToString()))
        {
            connection.Open();
            Execute(connection, $"PRAGMA journal_mode={journalMode}");
            Execute(connection, $"PRAGMA synchronous={synchronous}");
            Execute(connection, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB, n INTEGER)");
            Execute(connection, "CREATE INDEX t_k ON t (k)");
            var random = new Random(42);
            using var insert = Command(connection, "INSERT INTO t (k, v, n) VALUES ($k, $v, $n)", "$k", "$v", "$n");
            using var update = Command(connection, "UPDATE t SET n = n + $d, v = $v WHERE id = $id", "$d", "$v", "$id");
            using var delete = Command(connection, "DELETE FROM t WHERE id = $id", "$id");
            using var read = Command(connection, "SELECT count(*) FROM t WHERE k >= $k", "$k");
            for (var i = 0; i < transactions; i++)
            {
                using var transaction = connection.BeginTransaction();
                insert.Transaction = update.Transaction = delete.Transaction = read.Transaction = transaction;
                for (var j = 0; j < 1 + (i % 3); j++)
                {
                    insert.Parameters["$k"].Value = $"key-{random.Next(100_000):D6}";
                    var blob = new byte[random.Next(10, i % 50 == 0 ? 6000 : 300)];
                    random.NextBytes(blob);
                    insert.Parameters["$v"].Value = blob;
                    insert.Parameters["$n"].Value = i;
                    insert.ExecuteNonQuery();
                }
                if (i % 4 == 1)
                {
                    update.Parameters["$d"].Value = i;
                    update.Parameters["$v"].Value = BitConverter.GetBytes(i);
                    update.Parameters["$id"].Value = random.Next(1, i + 2);
                    update.ExecuteNonQuery();
                }
                if (i % 7 == 3)
                {
                    delete.Parameters["$id"].Value = random.Next(1, i + 2);
                    delete.ExecuteNonQuery();
                }
                read.Parameters["$k"].Value = $"key-{random.Next(100_000):D6}";
                _ = read.ExecuteScalar();
                transaction.Commit();
            }
            var check = Scalar(connection, "PRAGMA integrity_check");
            if (check != "ok")
            {
                throw new InvalidOperationException($"integrity_check in {directory}: {check}");
            }
            if (journalMode == "wal")
            {
                Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
            }
        }
        return Digest(path);
    }

    /// <summary>A hash of every row, in primary key order, plus the row count.</summary>
    public static string Digest(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, k, v, n FROM t ORDER BY id";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var rows = 0;
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows++;
                hash.AppendData(BitConverter.GetBytes(reader.GetInt64(0)));
                hash.AppendData(Encoding.UTF8.GetBytes(reader.GetString(1)));
                hash.AppendData(reader.IsDBNull(2) ? [] : (byte[])reader.GetValue(2));
                hash.AppendData(BitConverter.GetBytes(reader.GetInt64(3)));
            }
        }
        return $"{rows} rows, sha256 {Convert.ToHexString(hash.GetHashAndReset())}";
    }

    public static string Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }
        command.Prepare();
        return command;
    }
}
