using System.Globalization;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A transaction far larger than the node keeps in memory is recorded, replicated and applied
/// with bounded memory: the primary's peak resident size grows by much less than the transaction.
/// </summary>
[Collection("cluster")]
public class LargeTransactionTests
{
    private const int TransactionMiB = 192;

    [Theory]
    [InlineData("wal")]
    [InlineData("delete")]
    public void OneTransactionOfHundredsOfMiB_ReplicatedWithBoundedMemory(string mode)
    {
        using var cluster = new Cluster(replicas: 1);
        cluster.Start();
        var primary = cluster.Primary;
        Sql.Cli(primary.Path("big.db"), $"PRAGMA journal_mode={mode}; CREATE TABLE b (v BLOB); INSERT INTO b VALUES (randomblob(100));");
        var setup = Cluster.TxIdOf(cluster.WaitCaughtUp("big.db"));
        var before = PeakResidentMiB(primary.Pid);

        // One INSERT ... SELECT of incompressible rows: a single transaction, and a single LTX file.
        Sql.Cli(primary.Path("big.db"), $"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {TransactionMiB * 256}) INSERT INTO b SELECT randomblob(4000) FROM c;");
        var pos = cluster.WaitCaughtUp("big.db", TimeSpan.FromMinutes(3));

        var grown = PeakResidentMiB(primary.Pid) - before;
        Console.WriteLine($"{mode}: peak resident size {before} MiB before, grew by {grown} MiB for a {TransactionMiB} MiB transaction");
        Assert.True(grown < TransactionMiB / 3, $"the primary's peak resident size grew by {grown} MiB for a {TransactionMiB} MiB transaction");
        Assert.Equal(setup + 1, Cluster.TxIdOf(pos));
        var file = Assert.Single(primary.LtxFiles("big.db"), f => f == Cluster.LtxName(setup + 1, setup + 1));
        Assert.True(new FileInfo(Path.Combine(primary.LtxDir("big.db"), file)).Length > TransactionMiB * 900_000L);
        Assert.Equal("ok\n", Sql.Cli(cluster.Replicas[0].Path("big.db"), "PRAGMA integrity_check;"));
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{TransactionMiB * 256 + 1}\n"), Sql.Cli(cluster.Replicas[0].Path("big.db"), "SELECT count(*) FROM b;"));
        cluster.AssertIdentical("big.db");
    }

    /// <summary>VmHWM of a process, in MiB.</summary>
    private static long PeakResidentMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }
        throw new InvalidOperationException($"no VmHWM for process {pid}");
    }
}
