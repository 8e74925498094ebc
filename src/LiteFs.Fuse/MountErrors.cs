using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse;

/// <summary>The messages for the mount failures users actually hit, each saying what to do.</summary>
internal static class MountErrors
{
    private static uint Uid => Libc.GetUid();

    public static FuseMountException DeviceMissing(string device) => new(
        $"cannot open {device}: no such device file. Load the FUSE module (modprobe fuse); in a container pass --device {device}.",
        Errno.ENOENT);

    public static FuseMountException DevicePermission(string device)
    {
        if (Uid == 0)
        {
            return new(
                $"cannot open {device}: permission denied although running as root: a container's device policy forbids it. " +
                $"Pass --device {device} to the container (and --cap-add SYS_ADMIN).",
                Errno.EACCES);
        }
        var user = Accounts.UserName(Uid);
        var owner = Libc.Statx(Libc.AtFdCwd, device, 0, StatxBuffer.BasicStats, out var stat) == 0
            ? $"; {device} has group '{Accounts.GroupName(stat.Gid)}' and mode {Octal(stat.Mode)}"
            : "";
        return new(
            $"cannot open {device}: permission denied (running as uid {Uid}, user {user}{owner}). Run as root, or give group 'fuse' " +
            $"read and write access to {device} and add this user to it (groupadd -f fuse; chgrp fuse {device}; chmod g+rw {device}; " +
            $"usermod -aG fuse {user}), then log in again so the group applies; in a container pass --device {device}.",
            Errno.EACCES);
    }

    public static FuseMountException DeviceFailed(string device, Errno errno) => new(
        $"cannot open {device}: {errno.Describe()} ({errno}). Check that the kernel supports FUSE (grep fuse /proc/filesystems).",
        errno);

    public static FuseMountException MountPointMissing(string path) => new(
        $"cannot mount on {path}: the mount point does not exist. Create it first (mkdir -p {path}).",
        Errno.ENOENT);

    public static FuseMountException MountPointNotDirectory(string path) => new(
        $"cannot mount on {path}: the mount point is not a directory.",
        Errno.ENOTDIR);

    public static FuseMountException MountPointInaccessible(string path, Errno errno) => errno == Errno.EACCES
        ? new(
            $"cannot mount on {path}: permission denied (running as uid {Uid}, user {Accounts.UserName(Uid)}): a directory above it " +
            "may not be entered by this user. Choose a mount point this user can reach, or run as root.",
            errno)
        : new($"cannot mount on {path}: {errno.Describe()} ({errno}) (running as uid {Uid}).", errno);

    public static FuseMountException MountPointNotWritable(string path, uint? owner, ushort? mode)
    {
        var user = Accounts.UserName(Uid);
        var state = owner is { } uid && mode is { } bits
            ? $"it is owned by {Accounts.UserName(uid)} with mode {Octal(bits)}"
            : "it is not writable by this user";
        return new(
            $"cannot mount on {path} as uid {Uid} (user {user}): {state}, and fusermount3 mounts only on a directory the user " +
            $"may write. Give it to this user (chown {user} {path}), choose a mount point this user owns, or run as root.",
            Errno.EACCES);
    }

    public static FuseMountException StaleMountKept(string path) => new(
        $"cannot mount on {path}: a stale FUSE mount is there (transport endpoint is not connected) and detaching it is turned off. " +
        $"Detach it by hand (fusermount3 -u -z {path}, or umount -l {path} as root).",
        Errno.ENOTCONN);

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

    private static string Octal(uint mode) => "0" + Convert.ToString(mode & 0xFFF, 8).PadLeft(3, '0');
}
