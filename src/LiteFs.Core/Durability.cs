namespace LiteFs.Core;

/// <summary>Making file-system changes durable, for the commands that write files outside the node (export).</summary>
public static class Durability
{
    /// <summary>fsyncs a directory: renames and unlinks in it survive a crash.</summary>
    public static void FsyncDirectory(string path) => Posix.FsyncDirectory(path);
}
