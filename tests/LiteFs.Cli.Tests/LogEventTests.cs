using System.Reflection;
using Microsoft.Extensions.Logging;

namespace LiteFs.Cli.Tests;

/// <summary>
/// Every log message of the node has an event id of its own, inside its component's range (the
/// table in docs/ARCHITECTURE.md, "Logging").
/// </summary>
public class LogEventTests
{
    /// <summary>The type that declares a component's messages → the logger category and its range.</summary>
    private static readonly Dictionary<string, (string Category, int First, int Last)> Ranges = new(StringComparer.Ordinal)
    {
        ["LiteFs.Core.Store"] = ("LiteFs.Core.Store", 1, 49),
        ["LiteFs.Core.DbLog"] = ("LiteFs.Core.Db", 50, 99),
        ["LiteFs.Core.Committer"] = ("LiteFs.Core.Committer", 100, 109),
        ["LiteFs.Core.Leases.LeaseMonitor"] = ("LiteFs.Core.Leases.LeaseMonitor", 150, 199),
        ["LiteFs.Core.Replication.ReplicaClient"] = ("LiteFs.Core.Replication.ReplicaClient", 200, 249),
        ["LiteFs.Core.Replication.PrimaryStreamer"] = ("LiteFs.Core.Replication.PrimaryStreamer", 250, 299),
        ["LiteFs.Http.NodeServer"] = ("LiteFs.Http.NodeServer", 300, 349),
        ["LiteFs.Http.NodeClient"] = ("LiteFs.Http.NodeClient", 350, 399),
        ["LiteFs.Fuse.Log"] = ("LiteFs.Fuse.FuseMount, LiteFs.Fuse.FuseSession", 400, 499),
        ["LiteFs.Cli.MountCommand"] = ("LiteFs.Cli.MountCommand", 500, 549),
        ["LiteFs.Cli.Exec.ExecRunner"] = ("LiteFs.Cli.Exec.ExecRunner", 550, 599),
        ["LiteFs.FileSystem.FileSystemLog"] = ("LiteFs.FileSystem.LiteFsFileSystem", 600, 649),
        ["LiteFs.Proxy.ProxyServer"] = ("LiteFs.Proxy.ProxyServer", 700, 749),
        ["LiteFs.Leases.Etcd.EtcdLog"] = ("LiteFs.Leases.Etcd.EtcdLeaser", 800, 849),
        ["LiteFs.Leases.Consul.ConsulLog"] = ("LiteFs.Leases.Consul.ConsulLeaser", 850, 899),
    };

    private static readonly string[] Assemblies = ["LiteFs.Ltx", "LiteFs.Fuse", "LiteFs.Core", "LiteFs.FileSystem", "LiteFs.Http", "LiteFs.Proxy", "LiteFs.Leases.Etcd", "LiteFs.Leases.Consul", "litefs"];

    private static List<(string Type, string Method, int EventId)> Messages()
    {
        var messages = new List<(string, string, int)>();
        foreach (var name in Assemblies)
        {
            foreach (var type in Assembly.Load(name).GetTypes())
            {
                foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                {
                    if (method.GetCustomAttribute<LoggerMessageAttribute>() is { } attribute)
                    {
                        messages.Add((type.FullName!, method.Name, attribute.EventId));
                    }
                }
            }
        }
        return messages;
    }

    [Fact]
    public void LogMessages_EveryEventId_IsUnique()
    {
        var messages = Messages();
        Assert.True(messages.Count >= 40, $"only {messages.Count} [LoggerMessage] methods found");
        var duplicates = messages.GroupBy(m => m.EventId)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => $"{m.Type}.{m.Method}"))}")
            .ToArray();
        Assert.True(duplicates.Length == 0, "event ids used twice: " + string.Join("; ", duplicates));
    }

    [Fact]
    public void LogMessages_EventIds_AreInTheirComponentsRange()
    {
        var wrong = new List<string>();
        foreach (var (type, method, eventId) in Messages())
        {
            if (!Ranges.TryGetValue(type, out var range))
            {
                wrong.Add($"{type}.{method}: {type} has no event id range (add one here and in docs/ARCHITECTURE.md)");
            }
            else if (eventId < range.First || eventId > range.Last)
            {
                wrong.Add($"{type}.{method}: event id {eventId} is outside {range.Category}'s {range.First}–{range.Last}");
            }
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Ranges_DoNotOverlap()
    {
        var sorted = Ranges.Values.OrderBy(r => r.First).ToArray();
        for (var i = 1; i < sorted.Length; i++)
        {
            Assert.True(sorted[i].First > sorted[i - 1].Last, $"{sorted[i - 1].Category} and {sorted[i].Category} overlap");
        }
    }

    [Fact]
    public void ConsoleLoggerProvider_OneLoggerPerCategory_SameLineFormat()
    {
        var output = new StringWriter { NewLine = "\n" };
        var provider = new ConsoleLoggerProvider(output, debug: false);
        var store = provider.CreateLogger("LiteFs.Core.Store");
        var db = provider.CreateLogger("LiteFs.Core.Db");
        Assert.NotSame(store, db);
        Assert.Same(store, provider.CreateLogger("LiteFs.Core.Store"));

        store.Log(LogLevel.Information, new EventId(2), "database app.db created", null, (s, _) => s);
        db.Log(LogLevel.Warning, new EventId(59), "database app.db: cannot sync LTX files: disk full", null, (s, _) => s);
        db.Log(LogLevel.Debug, new EventId(60), "not shown without -debug", null, (s, _) => s);

        Assert.Equal("level=INFO database app.db created\nlevel=WARN database app.db: cannot sync LTX files: disk full\n", output.ToString());
    }
}
