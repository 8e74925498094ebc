using System.Runtime.InteropServices;

namespace LiteFs.Core;

/// <summary>The few POSIX calls .NET has no API for.</summary>
internal static partial class Posix
{
    private const int ORdOnly = 0;
    private const int ODirectory = 0x10000;
    private const int OCloexec = 0x80000;

    /// <summary>fsyncs a directory, making renames and unlinks in it durable.</summary>
    public static void FsyncDirectory(string path)
    {
        var fd = Open(path, ORdOnly | ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path} to sync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"cannot sync directory {path}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Flushes every dirty file of the file system holding <paramref name="path"/> in one call:
    /// cheaper than syncing many small files one by one.
    /// </summary>
    public static void SyncFileSystem(string path)
    {
        var fd = Open(path, ORdOnly | ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path} to sync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        try
        {
            if (SyncFs(fd) != 0)
            {
                throw new IOException($"cannot sync the file system of {path}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Starts writing a range of a file's dirty pages to disk without waiting for it
    /// (sync_file_range(2) with SYNC_FILE_RANGE_WRITE): a later fsync or syncfs then finds them
    /// written or on their way. Not a durability guarantee, only earlier work; failures are left
    /// to that later sync to report.
    /// </summary>
    public static void StartWriteback(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long length) =>
        _ = SyncFileRange((int)file.DangerousGetHandle(), offset, length, SyncFileRangeWrite);

    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long length, uint flags);

    /// <summary>
    /// Fills <paramref name="buffer"/> from the kernel's random source (getrandom(2)): node IDs,
    /// cluster IDs and temporary names. RandomNumberGenerator would do, but on Linux it loads
    /// OpenSSL, which costs a native executable about 40 ms of its start-up.
    /// </summary>
    public static unsafe void FillRandom(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = GetRandom(start + done, (nuint)(buffer.Length - done), 0);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == 4 /* EINTR */)
                    {
                        continue;
                    }
                    throw new IOException($"getrandom failed: {Marshal.GetLastPInvokeErrorMessage()}");
                }
                done += (int)n;
            }
        }
    }

    /// <summary>
    /// Bytes this process may still write on the file system holding <paramref name="path"/>
    /// (statvfs(2): the free blocks for root, who may use the reserved ones, the available ones
    /// for anyone else); -1 when it cannot be read.
    /// </summary>
    public static unsafe long FreeBytes(string path)
    {
        // struct statvfs on 64-bit Linux: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ... (8 bytes each).
        Span<ulong> buffer = stackalloc ulong[16];
        fixed (ulong* p = buffer)
        {
            if (StatVfs(path, p) != 0)
            {
                return -1;
            }
        }
        var blocks = GetEuid() == 0 ? buffer[3] : buffer[4];
        return (long)Math.Min(blocks * buffer[1], long.MaxValue);
    }

    /// <summary>
    /// Allocates the blocks of <paramref name="file"/> up to <paramref name="length"/> bytes
    /// without changing its size (fallocate(2) with FALLOC_FL_KEEP_SIZE), so that writes there
    /// cannot fail for lack of space later. A file system that cannot do it is left as it is;
    /// one without the space throws an <see cref="IOException"/> carrying ENOSPC.
    /// </summary>
    public static void ReserveBlocks(Microsoft.Win32.SafeHandles.SafeFileHandle file, long length)
    {
        const int keepSize = 1;
        const int notSupported = 95;
        if (Fallocate((int)file.DangerousGetHandle(), keepSize, 0, length) == 0)
        {
            return;
        }
        var errno = Marshal.GetLastPInvokeError();
        if (errno != notSupported)
        {
            throw new IOException($"cannot reserve {length} bytes for the database file: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatVfs(string path, ulong* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static unsafe partial nint GetRandom(byte* buffer, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    /// <summary>
    /// Takes an exclusive, non-blocking advisory lock on a directory, held until the returned
    /// handle is disposed (or the process dies). Returns null when another process holds it.
    /// </summary>
    public static IDisposable? TryLockDirectory(string path)
    {
        const int LockExclusive = 2;
        const int LockNonBlocking = 4;
        var fd = Open(path, ORdOnly | ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        if (Flock(fd, LockExclusive | LockNonBlocking) != 0)
        {
            _ = Close(fd);
            return null;
        }
        return new FdHandle(fd);
    }

    private sealed class FdHandle(int fd) : IDisposable
    {
        private int _fd = fd;

        public void Dispose()
        {
            var fd = Interlocked.Exchange(ref _fd, -1);
            if (fd >= 0)
            {
                _ = Close(fd);
            }
        }
    }

    /// <summary>
    /// Lowers the calling thread's scheduling priority (nice <paramref name="nice"/>): for
    /// background work that must give way to the threads serving SQLite. Best effort.
    /// </summary>
    public static void LowerThreadPriority(int nice)
    {
        const int PrioProcess = 0;
        _ = SetPriority(PrioProcess, GetTid(), nice);
    }

    /// <summary>
    /// Sleeps for <paramref name="duration"/> with the kernel's timer precision (tens of
    /// microseconds), where the managed waits round to whole milliseconds.
    /// </summary>
    public static void SleepPrecisely(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }
        var ns = duration.Ticks * 100;
        var request = new TimeSpec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        // Interrupted by a signal: the remaining time is not worth resuming for a pacing wait.
        _ = NanoSleep(in request, IntPtr.Zero);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "nanosleep", SetLastError = true)]
    private static partial int NanoSleep(in TimeSpec request, IntPtr remaining);

    /// <summary>A new descriptor of the same open file (close-on-exec), or -1.</summary>
    public static int Duplicate(int fd)
    {
        const int FDupFdCloexec = 1030;
        return Fcntl(fd, FDupFdCloexec, 0);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
