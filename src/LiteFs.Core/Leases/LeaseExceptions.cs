namespace LiteFs.Core.Leases;

/// <summary>The lease backend cannot be reached, refused a request, or answered something unexpected.</summary>
public class LeaseException : LiteFsException
{
    /// <summary>Creates the exception with a message that names the backend and what to check.</summary>
    public LeaseException(string message, Exception? inner = null)
        : base(LiteFsError.Io, message, inner)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public LeaseException()
        : this("lease backend error")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public LeaseException(string message)
        : this(message, null)
    {
    }
}

/// <summary>Another node holds the lease, so this one cannot acquire it now.</summary>
public sealed class LeaseHeldException : LeaseException
{
    /// <summary>Creates the exception for a lease held by <paramref name="holder"/> (null when the backend does not say who).</summary>
    public LeaseHeldException(PrimaryInfo? holder, string? detail = null)
        : base(holder is null
            ? $"lease already held{(detail is null ? "" : ": " + detail)}"
            : $"lease already held by {holder}{(detail is null ? "" : ": " + detail)}")
    {
        Holder = holder;
    }

    /// <summary>The holder as it wrote itself into the lease, when known.</summary>
    public PrimaryInfo? Holder { get; }
}

/// <summary>A lease this node held is gone (expired, revoked or deleted): it must no longer act as primary.</summary>
public sealed class LeaseExpiredException : LeaseException
{
    /// <summary>Creates the exception; the message says which lease and how it was found gone.</summary>
    public LeaseExpiredException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public LeaseExpiredException()
        : base("lease expired")
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public LeaseExpiredException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// A handoff's lease ID reached no stream: nothing was sent to the target, so the lease is still
/// this node's alone and it may go on as primary.
/// </summary>
public sealed class HandoffNotDeliveredException : LeaseException
{
    /// <summary>Creates the exception; the message says why the target's stream did not take the lease ID.</summary>
    public HandoffNotDeliveredException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public HandoffNotDeliveredException()
        : base("the target's stream did not take the lease id")
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public HandoffNotDeliveredException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
