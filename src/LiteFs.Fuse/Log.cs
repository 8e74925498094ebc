using Microsoft.Extensions.Logging;

namespace LiteFs.Fuse;

/// <summary>
/// The library's log messages, with stable event ids (400–499), written to the logger of the class
/// that logs (<see cref="FuseMount"/> or <see cref="FuseSession"/>).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 401, Level = LogLevel.Debug, Message = "<- {Opcode} unique={Unique} node={NodeId} uid={Uid} pid={Pid} len={Length}")]
    public static partial void Request(ILogger logger, string opcode, ulong unique, ulong nodeId, uint uid, uint pid, uint length);

    [LoggerMessage(EventId = 402, Level = LogLevel.Debug, Message = "-> unique={Unique} {Errno} len={Length}")]
    public static partial void Reply(ILogger logger, ulong unique, Errno errno, int length);

    [LoggerMessage(EventId = 403, Level = LogLevel.Error, Message = "{Opcode} (unique {Unique}, node {NodeId}) threw; answered {Errno}")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string opcode, ulong unique, ulong nodeId, Errno errno);

    [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "reading /dev/fuse failed: {Errno}; reader thread stops")]
    public static partial void ReadFailed(ILogger logger, Errno errno);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "FUSE {Major}.{Minor} negotiated (kernel {KernelMajor}.{KernelMinor}), flags {Flags}, max_write {MaxWrite}")]
    public static partial void Initialized(ILogger logger, uint major, uint minor, uint kernelMajor, uint kernelMinor, string flags, uint maxWrite);

    [LoggerMessage(EventId = 406, Level = LogLevel.Warning, Message = "FUSE passthrough unavailable ({Reason}); files are served through the file system")]
    public static partial void PassthroughUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 407, Level = LogLevel.Information, Message = "mounted {MountPoint} ({Method})")]
    public static partial void Mounted(ILogger logger, string mountPoint, string method);

    [LoggerMessage(EventId = 408, Level = LogLevel.Information, Message = "unmounted {MountPoint}")]
    public static partial void Unmounted(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 409, Level = LogLevel.Warning, Message = "{MountPoint} was a stale FUSE mount (its server died); detached it")]
    public static partial void StaleMountCleaned(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "unmounting {MountPoint} failed: {Reason}")]
    public static partial void UnmountFailed(ILogger logger, string mountPoint, string reason);

    [LoggerMessage(EventId = 411, Level = LogLevel.Information, Message = "{Signal} received; unmounting {MountPoint}")]
    public static partial void SignalReceived(ILogger logger, string signal, string mountPoint);

    [LoggerMessage(EventId = 413, Level = LogLevel.Debug, Message = "   unique={Unique} lock {Type} [{Start}, {End}] owner={Owner:X16}")]
    public static partial void LockRequest(ILogger logger, ulong unique, string type, ulong start, ulong end, ulong owner);

    [LoggerMessage(EventId = 412, Level = LogLevel.Debug, Message = "-> unique={Unique} {Errno} (completed later)")]
    public static partial void DeferredReply(ILogger logger, ulong unique, Errno errno);
}
