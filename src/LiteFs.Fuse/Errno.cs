namespace LiteFs.Fuse;

/// <summary>
/// Linux error numbers, as file system operations return them. Expected outcomes (a missing name,
/// a lock held by another owner) are returned as values, never thrown.
/// </summary>
#pragma warning disable CA1707, CA1008 // The names are the POSIX ones; zero means success.
public enum Errno
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>Operation not permitted.</summary>
    EPERM = 1,
    /// <summary>No such file or directory.</summary>
    ENOENT = 2,
    /// <summary>No such process.</summary>
    ESRCH = 3,
    /// <summary>Interrupted system call.</summary>
    EINTR = 4,
    /// <summary>Input/output error.</summary>
    EIO = 5,
    /// <summary>No such device or address.</summary>
    ENXIO = 6,
    /// <summary>Bad file descriptor.</summary>
    EBADF = 9,
    /// <summary>Resource temporarily unavailable (also EWOULDBLOCK).</summary>
    EAGAIN = 11,
    /// <summary>Out of memory.</summary>
    ENOMEM = 12,
    /// <summary>Permission denied.</summary>
    EACCES = 13,
    /// <summary>Bad address.</summary>
    EFAULT = 14,
    /// <summary>Device or resource busy.</summary>
    EBUSY = 16,
    /// <summary>File exists.</summary>
    EEXIST = 17,
    /// <summary>Invalid cross-device link.</summary>
    EXDEV = 18,
    /// <summary>No such device.</summary>
    ENODEV = 19,
    /// <summary>Not a directory.</summary>
    ENOTDIR = 20,
    /// <summary>Is a directory.</summary>
    EISDIR = 21,
    /// <summary>Invalid argument.</summary>
    EINVAL = 22,
    /// <summary>Too many open files in system.</summary>
    ENFILE = 23,
    /// <summary>Too many open files.</summary>
    EMFILE = 24,
    /// <summary>Inappropriate ioctl for device.</summary>
    ENOTTY = 25,
    /// <summary>Text file busy.</summary>
    ETXTBSY = 26,
    /// <summary>File too large.</summary>
    EFBIG = 27,
    /// <summary>No space left on device.</summary>
    ENOSPC = 28,
    /// <summary>Illegal seek.</summary>
    ESPIPE = 29,
    /// <summary>Read-only file system.</summary>
    EROFS = 30,
    /// <summary>Too many links.</summary>
    EMLINK = 31,
    /// <summary>Numerical result out of range.</summary>
    ERANGE = 34,
    /// <summary>Resource deadlock avoided.</summary>
    EDEADLK = 35,
    /// <summary>File name too long.</summary>
    ENAMETOOLONG = 36,
    /// <summary>No locks available.</summary>
    ENOLCK = 37,
    /// <summary>Function not implemented.</summary>
    ENOSYS = 38,
    /// <summary>Directory not empty.</summary>
    ENOTEMPTY = 39,
    /// <summary>Too many levels of symbolic links.</summary>
    ELOOP = 40,
    /// <summary>No data available (no such extended attribute).</summary>
    ENODATA = 61,
    /// <summary>Value too large for defined data type.</summary>
    EOVERFLOW = 75,
    /// <summary>Operation not supported.</summary>
    EOPNOTSUPP = 95,
    /// <summary>Transport endpoint is not connected (a FUSE mount whose server died).</summary>
    ENOTCONN = 107,
    /// <summary>Stale file handle.</summary>
    ESTALE = 116,
    /// <summary>Disk quota exceeded.</summary>
    EDQUOT = 122,
}
#pragma warning restore CA1707, CA1008

/// <summary>Helpers for <see cref="Errno"/>.</summary>
public static class ErrnoExtensions
{
    /// <summary>The C library's description of the error ("No such file or directory").</summary>
    public static string Describe(this Errno errno) => Interop.Libc.StrError((int)errno);

    /// <summary>The error number of the last failed native call on this thread.</summary>
    public static Errno LastPInvokeError() => (Errno)System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
}
