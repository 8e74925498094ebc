using Microsoft.Extensions.Logging;

namespace LiteFs.Fuse;

/// <summary>How to mount and serve a file system.</summary>
public sealed class MountOptions
{
    /// <summary>The "source" column of /proc/mounts (fsname=). Default "litefs".</summary>
    public string FsName { get; set; } = "litefs";

    /// <summary>The file system subtype, shown as type "fuse.&lt;subtype&gt;" (subtype=). Default "litefs"; null for plain "fuse".</summary>
    public string? Subtype { get; set; } = "litefs";

    /// <summary>
    /// allow_other: let users other than the one who mounted use the mount. An unprivileged mount
    /// needs <c>user_allow_other</c> in /etc/fuse.conf for this.
    /// </summary>
    public bool AllowOther { get; set; }

    /// <summary>default_permissions: let the kernel check permissions from the reported modes.</summary>
    public bool DefaultPermissions { get; set; }

    /// <summary>The largest read the kernel sends (max_read=); also sizes each reader's reply buffer. Default 1 MiB.</summary>
    public int MaxRead { get; set; } = 1 << 20;

    /// <summary>The largest write the kernel sends (negotiated at INIT); sizes each reader's request buffer. Default 1 MiB.</summary>
    public int MaxWrite { get; set; } = 1 << 20;

    /// <summary>How many threads block reading requests from the device. Default 4.</summary>
    public int ReaderThreads { get; set; } = 4;

    /// <summary>How long the kernel may cache a name → node binding. Default 1 s.</summary>
    public TimeSpan EntryTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the kernel may cache a node's attributes. Default 1 s.</summary>
    public TimeSpan AttributeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the kernel may remember that a name does not exist. Default zero (not cached). A
    /// file system whose names only change through the mount can raise it: SQLite probes for
    /// -journal and -wal files constantly.
    /// </summary>
    public TimeSpan NegativeEntryTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Deliver POSIX record locks (fcntl F_GETLK/F_SETLK/F_SETLKW, OFD locks) to the file system
    /// (<see cref="IHandleLocks"/>) instead of letting the kernel keep them. Default true.
    /// </summary>
    public bool PosixLocks { get; set; } = true;

    /// <summary>
    /// Negotiate FUSE passthrough (Linux 6.9+, needs CAP_SYS_ADMIN): open files whose
    /// <see cref="OpenResult.PassthroughFd"/> is set are served by the kernel from that descriptor.
    /// When the kernel or the privileges do not allow it, files are served normally and a warning is
    /// logged once.
    /// </summary>
    public bool Passthrough { get; set; }

    /// <summary>Log every request and reply at Debug level (the "-d" of FUSE tools).</summary>
    public bool Debug { get; set; }

    /// <summary>The clock the library's waits are measured on. Default: the system's.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the library logs: one category per class that logs (<c>LiteFs.Fuse.FuseMount</c>,
    /// <c>LiteFs.Fuse.FuseSession</c>). Default: nowhere.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Unmount when the process receives SIGINT or SIGTERM (the mount's
    /// <see cref="FuseMount.Completion"/> then completes and the owner disposes it). Off by default:
    /// the process that owns the mount usually owns its signals; such a caller unmounts with
    /// <see cref="FuseMount.Unmount"/> from its own handler.
    /// </summary>
    public bool UnmountOnSignals { get; set; }

    /// <summary>
    /// The single place unexpected exceptions from file system code become error numbers. Default:
    /// <see cref="FuseException"/> carries its own errno, anything else is EIO. Either way the
    /// exception is logged and the reader thread goes on.
    /// </summary>
    public Func<Exception, Errno>? ExceptionMapper { get; set; }

    /// <summary>Mount through fusermount3 even when mount(2) would be allowed. Default false.</summary>
    public bool UseFusermount { get; set; }

    /// <summary>
    /// Detach a stale FUSE mount (one whose server died: every access fails with ENOTCONN) found at
    /// the mount point before mounting. Default true; when false, such a mount point is an error.
    /// </summary>
    public bool DetachStaleMount { get; set; } = true;

    /// <summary>The FUSE device. Default /dev/fuse.</summary>
    public string DevicePath { get; set; } = "/dev/fuse";

    /// <summary>The fusermount3 program; null searches PATH, then /bin and /usr/bin.</summary>
    public string? FusermountPath { get; set; }

    internal void Validate()
    {
        if (ReaderThreads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ReaderThreads), ReaderThreads, "At least one reader thread is needed.");
        }
        if (MaxWrite < 4096 || MaxWrite > 16 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWrite), MaxWrite, "MaxWrite must be between 4 KiB and 16 MiB.");
        }
        if (MaxRead < 4096 || MaxRead > 16 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRead), MaxRead, "MaxRead must be between 4 KiB and 16 MiB.");
        }
        if (FsName.Contains(',', StringComparison.Ordinal) || (Subtype?.Contains(',', StringComparison.Ordinal) ?? false))
        {
            throw new ArgumentException("FsName and Subtype cannot contain commas.");
        }
    }
}
