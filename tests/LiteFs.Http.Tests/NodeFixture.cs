using LiteFs.Core;
using LiteFs.TestKit;

namespace LiteFs.Http.Tests;

/// <summary>A store and its node server on 127.0.0.1 (a free port), stopped and deleted on dispose.</summary>
internal sealed class NodeFixture : IAsyncDisposable
{
    /// <summary>The cluster ID of the golden captures.</summary>
    public const string GoldenClusterId = "LFSCC4107E101BBC6363";

    /// <summary>The node ID of the primary in the golden captures.</summary>
    public const string GoldenPrimaryId = "2DF4B2F0BD358A5D";

    private NodeFixture(TempDir dir, Store store)
    {
        Dir = dir;
        Store = store;
    }

    public TempDir Dir { get; }

    public Store Store { get; }

    public NodeServer Server { get; private set; } = null!;

    public NodeClient Client { get; } = new();

    public string Url => Server.Url;

    /// <summary>
    /// Starts a node. <paramref name="goldenDb"/> puts the golden <c>wal4096.db</c> (TXID 6, its six
    /// LTX files) in the data directory first; <paramref name="clusterId"/> is written as its
    /// <c>clusterid</c> (null: the store makes its own on a primary).
    /// </summary>
    public static async Task<NodeFixture> StartAsync(bool primary = true, bool goldenDb = false, string? clusterId = GoldenClusterId)
    {
        var dir = new TempDir("litefs-http");
        Store? store = null;
        NodeFixture? fixture = null;
        try
        {
            if (clusterId is not null)
            {
                File.WriteAllText(dir.Combine("clusterid"), clusterId + "\n");
            }
            if (goldenDb)
            {
                CopyGoldenDatabase(dir.Path);
            }
            store = new Store(new StoreOptions
            {
                DataDir = dir.Path,
                Lease = new StaticLease(primary, "primary", "http://127.0.0.1:1"),
                RetentionMonitorInterval = TimeSpan.Zero,
                OnFatal = ex => throw ex,
            });
            store.Open();
            fixture = new NodeFixture(dir, store);
            fixture.Server = new NodeServer(store, new NodeServerOptions { Address = "127.0.0.1:0" });
            await fixture.Server.StartAsync();
            return fixture;
        }
        catch
        {
            if (fixture is not null)
            {
                await fixture.DisposeAsync();
            }
            else
            {
                store?.Dispose();
                dir.Dispose();
            }
            throw;
        }
    }

    public static string Golden(params string[] parts) => Path.Combine([RepoPaths.Golden, .. parts]);

    /// <summary>The golden wal-4096 node's database and LTX files as <c>dbs/wal4096.db</c>.</summary>
    public static void CopyGoldenDatabase(string dataDir)
    {
        var dbDir = Path.Combine(dataDir, "dbs", "wal4096.db");
        Directory.CreateDirectory(Path.Combine(dbDir, "ltx"));
        var golden = Golden("wal-4096");
        File.Copy(Path.Combine(golden, "database"), Path.Combine(dbDir, "database"));
        foreach (var ltx in Directory.GetFiles(Path.Combine(golden, "ltx"), "*.ltx"))
        {
            File.Copy(ltx, Path.Combine(dbDir, "ltx", Path.GetFileName(ltx)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Server is not null)
            {
                await Server.DisposeAsync();
            }
        }
        finally
        {
            Client.Dispose();
            Store.Dispose();
            Dir.Dispose();
        }
    }
}
