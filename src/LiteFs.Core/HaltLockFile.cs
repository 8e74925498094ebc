using System.Runtime.InteropServices;

namespace LiteFs.Core;

/// <summary>
/// The client side of the HALT lock, as applications and litefs-go take it: an open file
/// description lock (<c>F_OFD_SETLKW</c>) on byte 72 of <c>NAME-lock</c> in a LiteFS mount,
/// opened read-write. Disposing unlocks it and closes the file. Used by <c>litefs run
/// -with-halt-lock-on</c> and by tests.
/// </summary>
public sealed partial class HaltLockFile : IDisposable
{
    /// <summary>The byte of <c>NAME-lock</c> that is the HALT lock.</summary>
    public const long HaltByte = 72;

    private const int ORdWr = 2;
    private const int OCloexec = 0x80000;
    private const int FOfdGetLk = 36;
    private const int FOfdSetLk = 37;
    private const int FOfdSetLkW = 38;
    private const short FWrLck = 1;
    private const short FUnLck = 2;
    private const int EIntr = 4;

    private int _fd;

    private HaltLockFile(int fd) => _fd = fd;

    /// <summary>
    /// Takes the lock, waiting as long as the node takes (retrying when a signal interrupts the
    /// wait). With <paramref name="inheritable"/> the file stays open in child processes, so the
    /// lock lasts while any of them runs.
    /// </summary>
    /// <exception cref="FileNotFoundException">The lock file does not exist (not a LiteFS mount, or no such database).</exception>
    /// <exception cref="IOException">The node refused the lock; the message has the errno.</exception>
    public static HaltLockFile Acquire(string lockPath, bool inheritable = false)
    {
        var fd = Open(lockPath, ORdWr | (inheritable ? 0 : OCloexec));
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == 2)
            {
                throw new FileNotFoundException($"no such file: {lockPath}", lockPath);
            }
            throw new IOException($"cannot open {lockPath}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        int error;
        while ((error = Lock(fd, FOfdSetLkW, FWrLck)) == EIntr)
        {
        }
        if (error != 0)
        {
            _ = Close(fd);
            throw new IOException($"cannot take the HALT lock on {lockPath}: {Marshal.GetPInvokeErrorMessage(error)}", error);
        }
        return new HaltLockFile(fd);
    }

    /// <summary>Tries to take the lock once; returns the errno (0: it was taken, and given back at once).</summary>
    public static int TryAcquire(string lockPath, bool wait)
    {
        var fd = Open(lockPath, ORdWr | OCloexec);
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
            _ = Close(fd);
        }
    }

    /// <summary>Whether <c>F_OFD_GETLK</c> on the HALT byte reports a lock (the node holds a HALT lock from the primary).</summary>
    public static bool IsReportedHeld(string lockPath)
    {
        var fd = Open(lockPath, ORdWr | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open {lockPath}: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        try
        {
            var flock = new Flock { Type = FWrLck, Whence = 0, Start = HaltByte, Len = 1 };
            if (Fcntl(fd, FOfdGetLk, ref flock) < 0)
            {
                throw new IOException($"F_OFD_GETLK on {lockPath}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
            return flock.Type != FUnLck;
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Unlocks the HALT byte and closes the file.</summary>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Lock(fd, FOfdSetLk, FUnLck);
            _ = Close(fd);
        }
    }

    private static int Lock(int fd, int command, short type)
    {
        var flock = new Flock { Type = type, Whence = 0, Start = HaltByte, Len = 1 };
        return Fcntl(fd, command, ref flock) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>struct flock as Linux lays it out on 64-bit machines.</summary>
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
