using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse;

public sealed partial class FuseMount
{
    private const uint StickyBit = 0x200;

    /// <summary>
    /// Checks, without mounting anything, what <see cref="Mount"/> will need, so a program can
    /// refuse to start before it opens anything else: the FUSE device exists and this process may
    /// open it; when the mount will go through fusermount3 (not root, or
    /// <see cref="MountOptions.UseFusermount"/>), that fusermount3 is installed, that
    /// /etc/fuse.conf permits allow_other if it is asked for, and that this user may write the
    /// mount point (fusermount3 mounts nowhere else). A missing mount point passes: the caller may
    /// create it, and its parent is the caller's to check. A stale mount passes unless
    /// <see cref="MountOptions.DetachStaleMount"/> is off.
    /// </summary>
    /// <exception cref="FuseMountException">Mounting would fail; the message says why and what to do.</exception>
    public static void CheckCanMount(string mountPoint, MountOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        options ??= new MountOptions();
        options.Validate();
        var path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        if (Libc.Statx(Libc.AtFdCwd, options.DevicePath, 0, StatxBuffer.BasicStats, out _) != 0 && Libc.LastError == (int)Errno.ENOENT)
        {
            throw MountErrors.DeviceMissing(options.DevicePath);
        }
        if (!options.UseFusermount && Libc.GetEUid() == 0)
        {
            // Opening the device also catches a container's device policy; a descriptor never
            // mounted with is simply closed.
            _ = Libc.Close(OpenDevice(options.DevicePath));
            _ = CheckMountPointState(path, options);
            return;
        }
        if (FindFusermount(options) is null)
        {
            throw MountErrors.FusermountMissing();
        }
        CheckUnprivileged(path, options);
    }

    /// <summary>What fusermount3 would refuse, said clearly rather than relaying its terse messages.</summary>
    private static void CheckUnprivileged(string path, MountOptions options)
    {
        if (!File.Exists(options.DevicePath))
        {
            throw MountErrors.DeviceMissing(options.DevicePath);
        }
        // fusermount3 opens the device with the caller's rights.
        if (Libc.Access(options.DevicePath, Libc.ROk | Libc.WOk) != 0 && Libc.LastError is 13 or 1)
        {
            throw MountErrors.DevicePermission(options.DevicePath);
        }
        if (options.AllowOther && Libc.GetUid() != 0 && !UserAllowOther())
        {
            throw MountErrors.AllowOtherNotPermitted(path);
        }
        if (CheckMountPointState(path, options) is { } stat && Libc.GetUid() != 0)
        {
            // fusermount3's own rule for users: a writable directory, and not someone else's sticky one.
            var foreignSticky = (stat.Mode & StickyBit) != 0 && stat.Uid != Libc.GetUid();
            if (foreignSticky || Libc.Access(path, Libc.WOk) != 0)
            {
                throw MountErrors.MountPointNotWritable(path, stat.Uid, stat.Mode);
            }
        }
    }

    /// <summary>
    /// Fails on a mount point that exists but is not a directory or cannot be reached, and on a
    /// stale mount when detaching it is turned off.
    /// </summary>
    /// <returns>The mount point's attributes, or null when it is missing or a stale mount.</returns>
    private static StatxBuffer? CheckMountPointState(string path, MountOptions options)
    {
        var errno = StatMountPoint(path, out var stat);
        return errno switch
        {
            Errno.Ok when (stat.Mode & FileModes.TypeMask) != FileModes.Directory => throw MountErrors.MountPointNotDirectory(path),
            Errno.Ok => stat,
            Errno.ENOENT => null,
            Errno.ENOTCONN or (Errno)103 /* ECONNABORTED */ when !options.DetachStaleMount => throw MountErrors.StaleMountKept(path),
            Errno.ENOTCONN or (Errno)103 => null,
            _ => throw MountErrors.MountPointInaccessible(path, errno),
        };
    }
}
