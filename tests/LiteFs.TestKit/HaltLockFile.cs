using System.Runtime.InteropServices;

namespace LiteFs.TestKit;

/// <summary>
/// Holds a database's HALT lock the way applications and litefs-go take it: an open file
/// description lock (<c>F_OFD_SETLKW</c>) on byte 72 of <c>NAME-lock</c> in the mount, opened
/// read-write. Disposing unlocks it and closes the file.
/// </summary>
public sealed partial class HaltLockFile : IDisposable
{
    private const int ORdWr = 2 | 0x80000; // O_RDWR | O_CLOEXEC: a child process does not inherit it
    private const int FOfdGetLk = 36;
    private const int FOfdSetLk = 37;
    private const int FOfdSetLkW = 38;
    private const short FWrLck = 1;
    private const short FUnLck = 2;

    private int _fd;

    private HaltLockFile(int fd) => _fd = fd;

    /// <summary>Takes the lock, waiting as long as the node takes; throws with errno's name when it refuses.</summary>
    public static HaltLockFile Acquire(string lockPath)
    {
        var fd = Open(lockPath, ORdWr);
        if (fd < 0)
        {
            throw new IOException($"open {lockPath}: errno {Marshal.GetLastPInvokeError()}");
        }
        var errno = Lock(fd, FOfdSetLkW, FWrLck);
        if (errno != 0)
        {
            Close(fd);
            throw new IOException($"F_OFD_SETLKW on byte 72 of {lockPath}: errno {errno}", errno);
        }
        return new HaltLockFile(fd);
    }

    /// <summary>Tries to take the lock; returns the errno (0: taken, and then disposed at once).</summary>
    public static int TryAcquire(string lockPath, bool wait)
    {
        var fd = Open(lockPath, ORdWr);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }
        try
        {
            return Lock(fd, wait ? FOfdSetLkW : FOfdSetLk, FWrLck);
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Whether <c>F_OFD_GETLK</c> on byte 72 reports a lock held (a HALT lock recorded on the node).</summary>
    public static bool IsReportedHeld(string lockPath)
    {
        var fd = Open(lockPath, ORdWr);
        if (fd < 0)
        {
            throw new IOException($"open {lockPath}: errno {Marshal.GetLastPInvokeError()}");
        }
        try
        {
            var flock = new Flock { Type = FWrLck, Whence = 0, Start = 72, Len = 1 };
            if (Fcntl(fd, FOfdGetLk, ref flock) < 0)
            {
                throw new IOException($"F_OFD_GETLK: errno {Marshal.GetLastPInvokeError()}");
            }
            return flock.Type != FUnLck;
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Unlocks byte 72 (keeping the file open); returns the errno.</summary>
    public int Unlock() => Lock(_fd, FOfdSetLk, FUnLck);

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Lock(fd, FOfdSetLk, FUnLck);
            Close(fd);
        }
    }

    private static int Lock(int fd, int command, short type)
    {
        var flock = new Flock { Type = type, Whence = 0, Start = 72, Len = 1 };
        return Fcntl(fd, command, ref flock) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Len;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, ref Flock flock);
}
