using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse;

/// <summary>The messages for the mount failures users actually hit, each saying what to do.</summary>
internal static class MountErrors
{
    private static uint Uid => Libc.GetUid();

    public static FuseMountException DeviceMissing(string device) => new(
        $"cannot open {device}: no such device file. Load the FUSE module (modprobe fuse); in a container pass --device {device}.",
        Errno.ENOENT);

    public static FuseMountException DevicePermission(string device) => new(
        $"cannot open {device}: permission denied (running as uid {Uid}). Run as root, or add this user to the 'fuse' group " +
        $"and make {device} group-readable and -writable (chgrp fuse {device}; chmod g+rw {device}); " +
        $"in a container pass --device {device} and grant CAP_SYS_ADMIN.",
        Errno.EACCES);

    public static FuseMountException DeviceFailed(string device, Errno errno) => new(
        $"cannot open {device}: {errno.Describe()} ({errno}). Check that the kernel supports FUSE (grep fuse /proc/filesystems).",
        errno);

    public static FuseMountException MountPointMissing(string path) => new(
        $"cannot mount on {path}: the mount point does not exist. Create it first (mkdir -p {path}).",
        Errno.ENOENT);

    public static FuseMountException MountPointNotDirectory(string path) => new(
        $"cannot mount on {path}: the mount point is not a directory.",
        Errno.ENOTDIR);

    public static FuseMountException MountPointInaccessible(string path, Errno errno) => new(
        $"cannot mount on {path}: {errno.Describe()} ({errno}) (running as uid {Uid}).",
        errno);

    public static FuseMountException AlreadyMounted(string path, MountInfo existing) => new(
        $"cannot mount on {path}: it is already mounted ({existing.FileSystemType} from {existing.Source}). " +
        $"Unmount it first (fusermount3 -u {path}) or choose another mount point.",
        Errno.EBUSY);

    public static FuseMountException StaleNotCleaned(string path, string reason) => new(
        $"cannot mount on {path}: a stale FUSE mount is there (transport endpoint is not connected) and detaching it failed: {reason}. " +
        $"Detach it by hand (fusermount3 -u -z {path}, or umount -l {path} as root).",
        Errno.ENOTCONN);

    public static FuseMountException MountFailed(string path, Errno errno) => errno switch
    {
        Errno.EPERM => new(
            $"cannot mount on {path}: operation not permitted (running as uid {Uid}). Run as root with CAP_SYS_ADMIN " +
            "(in a container: --cap-add SYS_ADMIN --device /dev/fuse), or let fusermount3 mount (install fuse3).",
            errno),
        Errno.ENODEV => new($"cannot mount on {path}: the kernel has no FUSE file system (modprobe fuse).", errno),
        _ => new($"cannot mount on {path}: mount(2) failed: {errno.Describe()} ({errno}).", errno),
    };

    public static FuseMountException FusermountMissing() => new(
        $"cannot mount as uid {Uid}: fusermount3 was not found. Install the fuse3 package, or run as root.",
        Errno.ENOENT);

    public static FuseMountException AllowOtherNotPermitted(string path) => new(
        $"cannot mount on {path} with allow_other as uid {Uid}: /etc/fuse.conf does not contain 'user_allow_other'. " +
        "Add that line to /etc/fuse.conf, run as root, or mount without allow_other.",
        Errno.EPERM);

    public static FuseMountException FusermountFailed(string path, int exitCode, string stderr) => new(
        $"cannot mount on {path}: fusermount3 failed (exit code {exitCode}): {stderr.Trim()}",
        Errno.EIO);

    public static FuseMountException InitTimedOut(string path) => new(
        $"mounted {path} but the kernel never completed the FUSE handshake (INIT); unmounted again.",
        Errno.ETXTBSY);
}
