using System.Runtime.InteropServices;

namespace LiteFs.Fuse.Tests;

/// <summary>The system calls the tests make directly, to exercise what .NET's file APIs do not.</summary>
internal static unsafe partial class Native
{
    public const int FOfdGetLk = 36;
    public const int FOfdSetLk = 37;
    public const int FOfdSetLkW = 38;
    public const short FRdLck = 0;
    public const short FWrLck = 1;
    public const short FUnLck = 2;
    public const int SeekData = 3;
    public const int SeekHole = 4;
    public const uint RenameNoReplace = 1;
    public const uint RenameExchange = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Len;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, Flock* argument);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatFs(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "truncate", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Truncate(string path, long length);

    public static int Errno => Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>Opens and reads <paramref name="path"/>; returns 0 or the exact errno of the first failure.</summary>
    public static int ReadErrno(string path)
    {
        var fd = Open(path, 0);
        if (fd < 0)
        {
            return Errno;
        }
        try
        {
            var buffer = stackalloc byte[4096];
            return Read(fd, buffer, 4096) < 0 ? Errno : 0;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>An OFD lock operation (each open file is its own owner, so one process can contend with itself).</summary>
    public static int OfdLock(SafeHandle file, int command, short type, long start, long length, out Flock result)
    {
        var flock = new Flock { Type = type, Whence = 0, Start = start, Len = length };
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            var code = Fcntl((int)file.DangerousGetHandle(), command, &flock);
            result = flock;
            return code == 0 ? 0 : Errno;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    public static int Fd(SafeHandle handle) => (int)handle.DangerousGetHandle();
}
