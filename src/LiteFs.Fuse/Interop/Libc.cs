using System.Runtime.InteropServices;

namespace LiteFs.Fuse.Interop;

/// <summary>
/// The C library calls the FUSE protocol layer and the mount code make. Every import is
/// <c>LibraryImport</c> with blittable arguments, so Native AOT needs no marshalling stubs beyond
/// UTF-8 strings on the (cold) mount path.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int AtFdCwd = -100;

    // open(2) flags (asm-generic values, the same on x86-64 and arm64 for these).
    public const int ORdOnly = 0x0;
    public const int OWrOnly = 0x1;
    public const int ORdWr = 0x2;
    public const int OAccMode = 0x3;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int ONoCtty = 0x100;
    public const int OTrunc = 0x200;
    public const int OAppend = 0x400;
    public const int ONonBlock = 0x800;
    public const int ODirectory = 0x10000;
    public const int ONoFollow = 0x20000;
    public const int OCloExec = 0x80000;
    public const int OPath = 0x200000;

    public const int FGetFd = 1;
    public const int FSetFd = 2;
    public const int FdCloExec = 1;

    public const int AtSymlinkNoFollow = 0x100;
    public const int AtRemoveDir = 0x200;
    public const int AtEmptyPath = 0x1000;
    public const int AtStatxForceSync = 0x2000;

    // mount(2) flags and umount2(2) flags.
    public const ulong MsNoSuid = 2;
    public const ulong MsNoDev = 4;
    public const int MntDetach = 2;

    public const int AfUnix = 1;
    public const int SockStream = 1;
    public const int SockCloExec = 0x80000;
    public const int SolSocket = 1;
    public const int ScmRights = 1;

    public const int ROk = 4;
    public const int WOk = 2;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nint count);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, long argument);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, void* argument);

    [LibraryImport(Lib, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fileSystemType, ulong flags, string data);

    [LibraryImport(Lib, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Lib, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Access(string path, int mode);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirFd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true)]
    public static partial int Statx(int dirFd, byte* path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEUid();

    [LibraryImport(Lib, EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport(Lib, EntryPoint = "getegid")]
    public static partial uint GetEGid();

    /// <summary>The C library's text for an error number.</summary>
    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>The errno of the last call made through these imports on this thread.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>Sets or clears FD_CLOEXEC on a descriptor.</summary>
    public static void SetCloseOnExec(int fd, bool value)
    {
        var flags = Fcntl(fd, FGetFd, 0);
        if (flags >= 0)
        {
            _ = Fcntl(fd, FSetFd, value ? flags | FdCloExec : flags & ~FdCloExec);
        }
    }
}

/// <summary>struct statx: one layout on every Linux architecture, unlike struct stat.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatxBuffer
{
    public uint Mask;
    public uint BlockSize;
    public ulong Attributes;
    public uint NLink;
    public uint Uid;
    public uint Gid;
    public ushort Mode;
    private readonly ushort _spare0;
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;
    public ulong AttributesMask;
    public StatxTimestamp ATime;
    public StatxTimestamp BTime;
    public StatxTimestamp CTime;
    public StatxTimestamp MTime;
    public uint RDevMajor;
    public uint RDevMinor;
    public uint DevMajor;
    public uint DevMinor;
    private unsafe fixed ulong _spare2[14];

    /// <summary>STATX_BASIC_STATS.</summary>
    public const uint BasicStats = 0x7ff;
}

/// <summary>struct statx_timestamp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct StatxTimestamp
{
    public long Seconds;
    public uint Nanoseconds;
    private readonly int _reserved;
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary>struct msghdr (LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct cmsghdr (LP64) followed by one descriptor.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CmsgFd
{
    public nuint Length;
    public int Level;
    public int Type;
    public int Fd;
    private readonly int _padding;
}
