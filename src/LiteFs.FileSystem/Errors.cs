using LiteFs.Core;
using LiteFs.Fuse;
using LiteFs.Ltx;

namespace LiteFs.FileSystem;

/// <summary>The one place where node failures become errno values for the application.</summary>
internal static class Errors
{
    /// <summary>Maps an exception from the node to the errno SQLite sees (EIO unless the failure has a kind).</summary>
    public static Errno ToErrno(Exception ex) => ex switch
    {
        LiteFsException { Error: var e } => e switch
        {
            LiteFsError.NotFound => Errno.ENOENT,
            LiteFsError.Exists => Errno.EEXIST,
            LiteFsError.ReadOnly => Errno.EACCES,
            LiteFsError.Invalid => Errno.EINVAL,
            LiteFsError.NotSupported => Errno.ENOSYS,
            LiteFsError.WouldBlock => Errno.EAGAIN,
            LiteFsError.NotPermitted => Errno.EPERM,
            LiteFsError.NoSpace => Errno.ENOSPC,
            _ => Errno.EIO,
        },
        FileNotFoundException or DirectoryNotFoundException => Errno.ENOENT,
        LtxFormatException => Errno.EIO,
        IOException { HResult: 28 or 0x70 } => Errno.ENOSPC,
        _ => Errno.EIO,
    };
}
