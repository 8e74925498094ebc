using System.Globalization;
using System.Runtime.InteropServices;

namespace LiteFs.Core;

/// <summary>
/// The start-up check that this process may write a directory it needs, or create it: a node run
/// as the wrong user stops with the directory in the way, its owner and the fix named, before it
/// opens anything, instead of failing half-started on the first file it cannot create.
/// </summary>
public static partial class DirectoryAccess
{
    private const int ENoEnt = 2;
    private const int EAcces = 13;
    private const int ENotDir = 20;
    private const int ERofs = 30;
    private const int EConnAborted = 103;
    private const int ENotConn = 107;
    private const int WOk = 2;
    private const int XOk = 1;
    private const uint TypeMask = 0xF000;
    private const uint DirectoryType = 0x4000;

    /// <summary>
    /// Checks that <paramref name="path"/> is a directory this process may write, or that the
    /// nearest existing directory above it is one it may create it in. A path behind a stale FUSE
    /// mount passes: mounting deals with that.
    /// </summary>
    /// <param name="path">The directory.</param>
    /// <param name="setting">The configuration key that names it (e.g. <c>data.dir</c>), for the message.</param>
    /// <exception cref="LiteFsException">It cannot; the message says what is in the way, whose it is, and what to do.</exception>
    public static void Check(string path, string setting)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var current = full;
        var unreachable = false;
        Statx stat;
        while (true)
        {
            if (StatxCall(-100 /* AT_FDCWD */, current, 0, 0x7ff /* STATX_BASIC_STATS */, out stat) == 0)
            {
                break;
            }
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case ENotConn or EConnAborted:
                    return;
                case ENoEnt or EAcces or ENotDir:
                    // EACCES: a directory above may not be searched; it is the first one found.
                    unreachable |= errno == EAcces;
                    current = Path.GetDirectoryName(current);
                    if (current is null)
                    {
                        return;
                    }
                    continue;
                default:
                    throw new LiteFsException(LiteFsError.Io,
                        $"cannot use {full} ({setting}): cannot examine {current}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        if ((stat.Mode & TypeMask) != DirectoryType)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"cannot use {full} ({setting}): {current} is not a directory. Set {setting} to a directory.");
        }
        var uid = GetUid();
        var user = UserName(uid);
        var who = $"uid {uid.ToString(CultureInfo.InvariantCulture)} (user {user})";
        var owner = $"owned by {UserName(stat.Uid)} with mode {Octal(stat.Mode)}";
        var alternatives = $"set {setting} to a directory this user owns, or run as root";
        if (unreachable)
        {
            throw new LiteFsException(LiteFsError.NotPermitted,
                $"cannot reach {full} ({setting}): {current} is {owner} and {who} may not enter it. " +
                $"Let this user through (chmod o+x {current}), {alternatives}.");
        }
        if (Access(current, WOk | XOk) == 0)
        {
            return;
        }
        if (Marshal.GetLastPInvokeError() == ERofs)
        {
            throw new LiteFsException(LiteFsError.NotPermitted,
                $"cannot use {full} ({setting}): {current} is on a read-only file system. Set {setting} to a directory on a writable one.");
        }
        throw new LiteFsException(LiteFsError.NotPermitted, current == full
            ? $"cannot use {full} ({setting}): it is {owner} and {who} may not write to it. " +
              $"Give it to this user (chown -R {user} {full}), {alternatives}."
            : $"cannot create {full} ({setting}): {current} is {owner} and {who} may not write to it. " +
              $"Create it for this user (as root: mkdir -p {full}; chown {user} {full}), {alternatives}.");
    }

    private static string Octal(uint mode) => "0" + Convert.ToString(mode & 0xFFF, 8).PadLeft(3, '0');

    /// <summary>A user's name from /etc/passwd, else the number.</summary>
    private static string UserName(uint uid)
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n == uid)
                {
                    return fields[0];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return uid.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The head of struct statx (one layout on every architecture), sized for the whole of it.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint NLink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxCall(int dirFd, string path, int flags, uint mask, out Statx buffer);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint GetUid();
}
