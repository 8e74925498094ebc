using LiteFs.Core;
using LiteFs.FileSystem;
using LiteFs.Fuse;
using LiteFs.Ltx;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A node running in the test process (primary or replica): a store on a temporary data directory, mounted
/// with FUSE at a temporary mount point. Disposing unmounts and removes both, even after a
/// failed test.
/// </summary>
public sealed class NodeFixture : IDisposable
{
    private readonly TempDir _root;
    private LiteFsFileSystem? _fs;

    public NodeFixture(bool compress = true, bool primary = true)
    {
        IsPrimary = primary;
        _root = new TempDir("litefs-node");
        DataDir = _root.Combine("data");
        MountPoint = _root.Combine("mnt");
        Directory.CreateDirectory(MountPoint);
        Compress = compress;
        Start();
    }

    public string DataDir { get; }

    public string MountPoint { get; }

    public bool Compress { get; }

    /// <summary>Whether the node is the primary (a static lease's candidate) or a replica.</summary>
    public bool IsPrimary { get; }

    public Store Store { get; private set; } = null!;

    /// <summary>A path in the mount.</summary>
    public string Path(string name) => System.IO.Path.Combine(MountPoint, name);

    /// <summary>The database's folder in the data directory.</summary>
    public string DbDir(string name) => System.IO.Path.Combine(DataDir, "dbs", name);

    /// <summary>The database's LTX files, in TXID order.</summary>
    public string[] LtxFiles(string name) =>
        Directory.GetFiles(System.IO.Path.Combine(DbDir(name), "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();

    /// <summary>Stops and starts the node on the same data directory (recovery runs).</summary>
    public void Restart()
    {
        Stop();
        Start();
    }

    private void Start()
    {
        Store = new Store(new StoreOptions
        {
            DataDir = DataDir,
            Compress = Compress,
            Lease = new StaticLease(IsPrimary, IsPrimary ? "localhost" : "primary", "http://127.0.0.1:20202"),
            RetentionMonitorInterval = TimeSpan.Zero,
            OnFatal = ex => throw ex,
        });
        Store.Open();
        _fs = new LiteFsFileSystem(Store);
        _fs.Mount(MountPoint, new MountOptions());
    }

    private void Stop()
    {
        try
        {
            _fs?.Unmount();
        }
        finally
        {
            _fs?.Dispose();
            _fs = null;
            Store.Dispose();
        }
        if (Mounts.IsMounted(MountPoint))
        {
            Mounts.ForceDetach(MountPoint);
        }
    }

    /// <summary>
    /// Checks the invariants of a database at rest: every LTX file verifies; applying the chain to
    /// an empty file gives the node's database byte for byte; NAME-pos is the last file's
    /// position and the database file's checksum.
    /// </summary>
    public void AssertReplicable(string name)
    {
        var files = LtxFiles(name);
        Assert.NotEmpty(files);
        using var temp = new TempDir();
        var rebuilt = temp.Combine("rebuilt.db");
        Pos last;
        using (var handle = File.OpenHandle(rebuilt, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            var applier = new LtxApplier(handle, rebuilt);
            foreach (var file in files)
            {
                using var stream = File.OpenRead(file);
                try
                {
                    applier.Apply(stream, file);
                }
                catch when (Environment.GetEnvironmentVariable("LITEFS_KEEP_FAILED") is { Length: > 0 } keep)
                {
                    CopyTree(DataDir, keep);
                    throw;
                }
            }
            last = applier.Position;
        }
        var database = System.IO.Path.Combine(DbDir(name), "database");
        Assert.Equal(File.ReadAllBytes(database), File.ReadAllBytes(rebuilt));
        Assert.Equal(last + "\n", File.ReadAllText(Path(name + "-pos")));
        using var db = File.OpenRead(database);
        Assert.Equal(last.PostApplyChecksum, SqliteDatabase.ComputeChecksum(db));
    }

    /// <summary>Copies every file below <paramref name="from"/> to the same place below <paramref name="to"/>.</summary>
    internal static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    public void Dispose()
    {
        try
        {
            Stop();
        }
        finally
        {
            _root.Dispose();
        }
    }
}
