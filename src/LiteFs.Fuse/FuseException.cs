namespace LiteFs.Fuse;

/// <summary>
/// Thrown by file system code that prefers exceptions to return values for a failure; the
/// dispatcher answers the request with <see cref="Errno"/>.
/// </summary>
public class FuseException : Exception
{
    /// <summary>Creates an exception carrying <paramref name="errno"/>.</summary>
    public FuseException(Errno errno, string? message = null, Exception? innerException = null)
        : base(message ?? $"{errno}: {errno.Describe()}", innerException)
    {
        Errno = errno;
    }

    /// <summary>Creates an exception carrying EIO.</summary>
    public FuseException()
        : this(Errno.EIO)
    {
    }

    /// <summary>Creates an exception carrying EIO with a message.</summary>
    public FuseException(string message)
        : this(Errno.EIO, message)
    {
    }

    /// <summary>Creates an exception carrying EIO with a message and cause.</summary>
    public FuseException(string message, Exception innerException)
        : this(Errno.EIO, message, innerException)
    {
    }

    /// <summary>The error number the request is answered with.</summary>
    public Errno Errno { get; }
}

/// <summary>Why mounting failed, in words an operator can act on.</summary>
public sealed class FuseMountException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuseMountException(string message, Errno errno = Errno.EIO, Exception? innerException = null)
        : base(message, innerException)
    {
        Errno = errno;
    }

    /// <summary>Creates the exception with EIO.</summary>
    public FuseMountException()
        : this("mount failed")
    {
    }

    /// <summary>Creates the exception with EIO.</summary>
    public FuseMountException(string message)
        : this(message, Errno.EIO)
    {
    }

    /// <summary>Creates the exception with EIO and a cause.</summary>
    public FuseMountException(string message, Exception innerException)
        : this(message, Errno.EIO, innerException)
    {
    }

    /// <summary>The underlying error, when there is one.</summary>
    public Errno Errno { get; }
}
