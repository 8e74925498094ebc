using System.Runtime.InteropServices;

namespace LiteFs.Fuse.Interop;

/// <summary>The *at(2) family and descriptor I/O used by the loopback file system.</summary>
internal static unsafe partial class Libc
{
    public const int SeekSet = 0;
    public const int UtimeNow = (1 << 30) - 1;
    public const int UtimeOmit = (1 << 30) - 2;

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenAt(int dirFd, byte* path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint PWrite(int fd, byte* buffer, nint count, long offset);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(int fd);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int FDataSync(int fd);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "truncate", SetLastError = true)]
    public static partial int Truncate(byte* path, long length);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int MkdirAt(int dirFd, byte* path, uint mode);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(int dirFd, byte* path, int flags);

    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true)]
    public static partial int RenameAt2(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, uint flags);

    [LibraryImport(Lib, EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int FChmodAt(int dirFd, byte* path, uint mode, int flags);

    [LibraryImport(Lib, EntryPoint = "fchownat", SetLastError = true)]
    public static partial int FChownAt(int dirFd, byte* path, uint uid, uint gid, int flags);

    [LibraryImport(Lib, EntryPoint = "utimensat", SetLastError = true)]
    public static partial int UtimensAt(int dirFd, byte* path, Timespec2* times, int flags);

    [LibraryImport(Lib, EntryPoint = "futimens", SetLastError = true)]
    public static partial int FUtimens(int fd, Timespec2* times);

    [LibraryImport(Lib, EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint GetDents64(int fd, byte* buffer, nint count);

    [LibraryImport(Lib, EntryPoint = "fstatvfs", SetLastError = true)]
    public static partial int FStatVfs(int fd, StatVfs* buffer);

    [LibraryImport(Lib, EntryPoint = "faccessat", SetLastError = true)]
    public static partial int FAccessAt(int dirFd, byte* path, int mode, int flags);

    /// <summary>
    /// Writes "/proc/self/fd/N\0" into <paramref name="buffer"/>: the way to reopen an O_PATH
    /// descriptor or apply a path-only call to it without allocating.
    /// </summary>
    public static Span<byte> ProcSelfFd(int fd, Span<byte> buffer)
    {
        "/proc/self/fd/"u8.CopyTo(buffer);
        fd.TryFormat(buffer[14..], out var written, default, System.Globalization.CultureInfo.InvariantCulture);
        buffer[14 + written] = 0;
        return buffer[..(15 + written)];
    }
}

/// <summary>Two struct timespec values, as utimensat(2) takes them.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Timespec2
{
    public long ASeconds;
    public long ANanoseconds;
    public long MSeconds;
    public long MNanoseconds;
}

/// <summary>struct statvfs (LP64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StatVfs
{
    public ulong BlockSize;
    public ulong FragmentSize;
    public ulong Blocks;
    public ulong BlocksFree;
    public ulong BlocksAvailable;
    public ulong Files;
    public ulong FilesFree;
    public ulong FilesAvailable;
    public ulong FsId;
    public ulong Flags;
    public ulong NameMax;
    private fixed int _spare[6];
}
