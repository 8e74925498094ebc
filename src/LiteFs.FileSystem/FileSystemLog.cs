using Microsoft.Extensions.Logging;

namespace LiteFs.FileSystem;

/// <summary>The file system's log messages (event ids 600–649), written to its category (<c>LiteFs.FileSystem.LiteFsFileSystem</c>).</summary>
internal static partial class FileSystemLog
{
    [LoggerMessage(600, LogLevel.Warning, "database {Name}: cannot take the HALT lock: {Reason}")]
    public static partial void HaltFailed(ILogger logger, string name, string reason);

    [LoggerMessage(601, LogLevel.Warning, "database {Name}: cannot release the HALT lock: {Reason}")]
    public static partial void HaltReleaseFailed(ILogger logger, string name, string reason);
}
