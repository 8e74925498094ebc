using LiteFs.Core;

namespace LiteFs.FileSystem;

/// <summary>What a name in the mount denotes.</summary>
internal enum EntryKind
{
    Database,
    Journal,
    Wal,
    Shm,
    Pos,
    Lock,
    Lag,
    Primary,
}

/// <summary>Parses mount names: a suffix names a database's auxiliary file, <c>.lag</c>/<c>.primary</c> are special.</summary>
internal static class Names
{
    private static readonly (string Suffix, EntryKind Kind)[] Suffixes =
    [
        ("-journal", EntryKind.Journal),
        ("-wal", EntryKind.Wal),
        ("-shm", EntryKind.Shm),
        ("-pos", EntryKind.Pos),
        ("-lock", EntryKind.Lock),
    ];

    public const string Lag = ".lag";
    public const string Primary = ".primary";

    /// <summary>Splits a name into its kind and the database it belongs to.</summary>
    public static (EntryKind Kind, string Database) Parse(string name)
    {
        if (name == Lag)
        {
            return (EntryKind.Lag, "");
        }
        if (name == Primary)
        {
            return (EntryKind.Primary, "");
        }
        foreach (var (suffix, kind) in Suffixes)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length)
            {
                return (kind, name[..^suffix.Length]);
            }
        }
        return (EntryKind.Database, name);
    }

    /// <summary>The name of a database's entry of a kind.</summary>
    public static string Of(string database, EntryKind kind) => kind switch
    {
        EntryKind.Database => database,
        EntryKind.Journal => database + "-journal",
        EntryKind.Wal => database + "-wal",
        EntryKind.Shm => database + "-shm",
        EntryKind.Pos => database + "-pos",
        EntryKind.Lock => database + "-lock",
        EntryKind.Lag => Lag,
        _ => Primary,
    };

    /// <summary>The real file behind a kind, for the four SQLite files.</summary>
    public static DbFileKind? FileKind(EntryKind kind) => kind switch
    {
        EntryKind.Database => DbFileKind.Database,
        EntryKind.Journal => DbFileKind.Journal,
        EntryKind.Wal => DbFileKind.Wal,
        EntryKind.Shm => DbFileKind.Shm,
        _ => null,
    };
}
