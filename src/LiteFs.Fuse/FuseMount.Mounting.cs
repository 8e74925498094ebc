using System.Diagnostics;
using System.Globalization;
using System.Text;
using LiteFs.Fuse.Interop;
using Microsoft.Extensions.Logging;

namespace LiteFs.Fuse;

public sealed partial class FuseMount
{
    private const int MsgCmsgCloExec = 0x40000000;

    /// <summary>
    /// Checks the mount point and detaches a stale FUSE mount (a killed server leaves one: every
    /// access fails with ENOTCONN) so the new mount does not stack over a dead one, unless
    /// <see cref="MountOptions.DetachStaleMount"/> is off.
    /// </summary>
    private static void PrepareMountPoint(string path, MountOptions options, ILogger logger)
    {
        var errno = StatMountPoint(path, out var stat);
        if (errno is Errno.ENOTCONN or (Errno)103 /* ECONNABORTED */)
        {
            if (!options.DetachStaleMount)
            {
                throw MountErrors.StaleMountKept(path);
            }
            try
            {
                UnmountPath(path, Libc.GetEUid() != 0, options, logger, lazy: true);
            }
            catch (FuseMountException exception)
            {
                throw MountErrors.StaleNotCleaned(path, exception.Message);
            }
            Log.StaleMountCleaned(logger, path);
            errno = StatMountPoint(path, out stat);
        }
        switch (errno)
        {
            case Errno.Ok:
                break;
            case Errno.ENOENT:
                throw MountErrors.MountPointMissing(path);
            case Errno.ENOTDIR:
                throw MountErrors.MountPointNotDirectory(path);
            case Errno.ENOTCONN:
                throw MountErrors.StaleNotCleaned(path, "it is still not connected after detaching");
            default:
                throw MountErrors.MountPointInaccessible(path, errno);
        }
        if ((stat.Mode & FileModes.TypeMask) != FileModes.Directory)
        {
            throw MountErrors.MountPointNotDirectory(path);
        }
        var existing = MountTable.At(path).LastOrDefault(m => m.FileSystemType.StartsWith("fuse", StringComparison.Ordinal));
        if (existing is not null)
        {
            throw MountErrors.AlreadyMounted(path, existing);
        }
    }

    private static Errno StatMountPoint(string path, out StatxBuffer stat)
    {
        // FORCE_SYNC: cached attributes would hide a dead server for up to the attribute timeout.
        return Libc.Statx(Libc.AtFdCwd, path, Libc.AtStatxForceSync, StatxBuffer.BasicStats, out stat) == 0
            ? Errno.Ok
            : (Errno)Libc.LastError;
    }

    /// <returns>The connected device descriptor, and whether fusermount3 made the mount.</returns>
    private static (int Fd, bool UsedFusermount) OpenAndMount(string path, MountOptions options)
    {
        if (!options.UseFusermount && Libc.GetEUid() == 0)
        {
            var fd = OpenDevice(options.DevicePath);
            var data = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"fd={fd},rootmode=40000,user_id={Libc.GetEUid()},group_id={Libc.GetEGid()}")
                .Append(CommonOptions(options))
                .ToString();
            var type = options.Subtype is null ? "fuse" : "fuse." + options.Subtype;
            if (Libc.Mount(options.FsName, path, type, Libc.MsNoSuid | Libc.MsNoDev, data) == 0)
            {
                return (fd, false);
            }
            var errno = (Errno)Libc.LastError;
            _ = Libc.Close(fd);
            // Root without CAP_SYS_ADMIN (a container): fusermount3 may still be allowed to mount.
            if (errno != Errno.EPERM || FindFusermount(options) is null)
            {
                throw MountErrors.MountFailed(path, errno);
            }
        }
        return (MountWithFusermount(path, options), true);
    }

    private static string CommonOptions(MountOptions options)
    {
        var builder = new StringBuilder();
        if (options.AllowOther)
        {
            builder.Append(",allow_other");
        }
        if (options.DefaultPermissions)
        {
            builder.Append(",default_permissions");
        }
        builder.Append(CultureInfo.InvariantCulture, $",max_read={options.MaxRead}");
        return builder.ToString();
    }

    private static int OpenDevice(string device)
    {
        var fd = Libc.Open(device, Libc.ORdWr | Libc.OCloExec, 0);
        if (fd >= 0)
        {
            return fd;
        }
        var errno = (Errno)Libc.LastError;
        throw errno switch
        {
            Errno.ENOENT => MountErrors.DeviceMissing(device),
            Errno.EACCES or Errno.EPERM => MountErrors.DevicePermission(device),
            _ => MountErrors.DeviceFailed(device, errno),
        };
    }

    /// <summary>
    /// The unprivileged path: fusermount3 (setuid root) opens the device, mounts, and hands the
    /// descriptor back over a socket pair named by _FUSE_COMMFD (SCM_RIGHTS).
    /// </summary>
    private static unsafe int MountWithFusermount(string path, MountOptions options)
    {
        var fusermount = FindFusermount(options) ?? throw MountErrors.FusermountMissing();
        CheckUnprivileged(path, options);

        var fds = stackalloc int[2];
        if (Libc.SocketPair(Libc.AfUnix, Libc.SockStream | Libc.SockCloExec, 0, fds) != 0)
        {
            throw new FuseMountException($"cannot mount on {path}: socketpair failed: {((Errno)Libc.LastError).Describe()}", (Errno)Libc.LastError);
        }
        var ours = fds[0];
        var theirs = fds[1];
        try
        {
            // Only the child's end crosses exec.
            Libc.SetCloseOnExec(theirs, false);
            var mountOptions = string.Create(CultureInfo.InvariantCulture,
                $"fsname={options.FsName}{(options.Subtype is null ? "" : ",subtype=" + options.Subtype)}{CommonOptions(options)}");
            var (exitCode, stderr) = RunFusermount(fusermount, ["-o", mountOptions, "--", path],
                ("_FUSE_COMMFD", theirs.ToString(CultureInfo.InvariantCulture)));
            _ = Libc.Close(theirs);
            theirs = -1;
            if (exitCode != 0)
            {
                throw TranslateFusermountError(path, options, exitCode, stderr);
            }
            return ReceiveDescriptor(ours) ?? throw MountErrors.FusermountFailed(path, exitCode, "no descriptor was passed back. " + stderr);
        }
        finally
        {
            _ = Libc.Close(ours);
            if (theirs >= 0)
            {
                _ = Libc.Close(theirs);
            }
        }
    }

    private static FuseMountException TranslateFusermountError(string path, MountOptions options, int exitCode, string stderr)
    {
        if (stderr.Contains("user_allow_other", StringComparison.Ordinal))
        {
            return MountErrors.AllowOtherNotPermitted(path);
        }
        if (stderr.Contains(options.DevicePath, StringComparison.Ordinal) && stderr.Contains("ermission denied", StringComparison.Ordinal))
        {
            return MountErrors.DevicePermission(options.DevicePath);
        }
        if (stderr.Contains("no write access to mountpoint", StringComparison.Ordinal) || stderr.Contains("not owned by user", StringComparison.Ordinal))
        {
            var errno = StatMountPoint(path, out var stat);
            return MountErrors.MountPointNotWritable(path, errno == Errno.Ok ? stat.Uid : null, errno == Errno.Ok ? stat.Mode : null);
        }
        return MountErrors.FusermountFailed(path, exitCode, stderr);
    }

    private static unsafe int? ReceiveDescriptor(int socket)
    {
        byte data;
        var iov = new IoVec { Base = &data, Length = 1 };
        CmsgFd control = default;
        var message = new MsgHdr
        {
            Iov = &iov,
            IovLength = 1,
            Control = &control,
            ControlLength = (nuint)sizeof(CmsgFd),
        };
        nint received;
        do
        {
            received = Libc.RecvMsg(socket, &message, MsgCmsgCloExec);
        }
        while (received < 0 && Libc.LastError == (int)Errno.EINTR);
        if (received <= 0 || message.ControlLength < (nuint)(sizeof(CmsgFd) - 4) ||
            control.Level != Libc.SolSocket || control.Type != Libc.ScmRights)
        {
            return null;
        }
        return control.Fd;
    }

    private static bool UserAllowOther()
    {
        try
        {
            return File.ReadLines("/etc/fuse.conf").Any(line => line.Trim() == "user_allow_other");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? FindFusermount(MountOptions options)
    {
        if (options.FusermountPath is not null)
        {
            return File.Exists(options.FusermountPath) ? options.FusermountPath : null;
        }
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/bin", "/usr/bin"]))
        {
            var candidate = Path.Combine(dir, "fusermount3");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static (int ExitCode, string Stderr) RunFusermount(string fusermount, string[] arguments, (string Name, string Value)? environment = null)
    {
        var start = new ProcessStartInfo(fusermount)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        if (environment is { } variable)
        {
            start.Environment[variable.Name] = variable.Value;
        }
        using var process = Process.Start(start) ?? throw MountErrors.FusermountMissing();
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stderr.GetAwaiter().GetResult());
    }

    /// <summary>Unmounts <paramref name="path"/>: umount2(2) when we are root, fusermount3 -u otherwise.</summary>
    private static void UnmountPath(string path, bool useFusermount, MountOptions options, ILogger logger, bool lazy = false)
    {
        if (!useFusermount && Libc.GetEUid() == 0)
        {
            if (Libc.Umount2(path, lazy ? Libc.MntDetach : 0) == 0)
            {
                return;
            }
            var errno = (Errno)Libc.LastError;
            if (errno == Errno.EBUSY && !lazy && Libc.Umount2(path, Libc.MntDetach) == 0)
            {
                // Files are still open: the mount is detached now and ends when they are closed.
                return;
            }
            if (errno == Errno.EINVAL)
            {
                return; // Not mounted (any more).
            }
            if (errno != Errno.EPERM || FindFusermount(options) is null)
            {
                throw new FuseMountException($"umount2({path}) failed: {errno.Describe()} ({errno})", errno);
            }
        }
        var fusermount = FindFusermount(options) ?? throw MountErrors.FusermountMissing();
        var (exitCode, stderr) = RunFusermount(fusermount, lazy ? ["-u", "-z", "--", path] : ["-u", "--", path]);
        if (exitCode != 0 && !lazy)
        {
            (exitCode, stderr) = RunFusermount(fusermount, ["-u", "-z", "--", path]);
        }
        if (exitCode != 0 && !stderr.Contains("not mounted", StringComparison.Ordinal))
        {
            Log.UnmountFailed(logger, path, stderr.Trim());
            throw new FuseMountException($"fusermount3 -u {path} failed (exit code {exitCode}): {stderr.Trim()}");
        }
    }

    /// <summary>Ends the connection through fusectl (root only), for a lazily detached mount with files still open.</summary>
    private void AbortConnection()
    {
        if (_connectionId is not { } id)
        {
            return;
        }
        try
        {
            File.WriteAllText($"/sys/fs/fuse/connections/{id}/abort", "1");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private uint? _connectionId;

    private void RecordConnectionId()
    {
        if (Libc.Statx(Libc.AtFdCwd, MountPoint, 0, StatxBuffer.BasicStats, out var stat) == 0)
        {
            // fusectl names connections by the kernel's dev_t: major << 20 | minor.
            _connectionId = (stat.DevMajor << 20) | stat.DevMinor;
        }
    }
}
