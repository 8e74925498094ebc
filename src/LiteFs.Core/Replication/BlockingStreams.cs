using System.Runtime.CompilerServices;

namespace LiteFs.Core.Replication;

/// <summary>
/// Blocking reads over a stream whose reads complete asynchronously, such as an HTTP/2 response
/// body. A plain blocking read there waits on the pending read the way <c>Task.Wait</c> does,
/// spinning and yielding the processor before it sleeps; a replica waits for the primary's next
/// file hundreds of times a second, and that spinning cost it more CPU than the waiting saved.
/// Here the thread sleeps at once and the read's completion wakes it.
/// </summary>
internal sealed class BlockingReadStream(Stream inner) : ReadOnlyStream
{
    private readonly SleepingWait _wait = new();
    private byte[]? _bounce;

    public override int Read(byte[] buffer, int offset, int count) => _wait.Await(inner.ReadAsync(buffer.AsMemory(offset, count)));

    public override int Read(Span<byte> buffer)
    {
        // A span cannot outlive the call the pending read outlives: it goes through a buffer of our own.
        _bounce ??= new byte[64 * 1024];
        var n = _wait.Await(inner.ReadAsync(_bounce.AsMemory(0, Math.Min(buffer.Length, _bounce.Length))));
        _bounce.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Waits for a pending operation with a sleeping event (no spinning); one operation at a time.</summary>
internal sealed class SleepingWait
{
    private readonly ManualResetEventSlim _completed = new(initialState: false, spinCount: 0);

    /// <summary>Consumes <paramref name="operation"/> once, as an await would.</summary>
    public T Await<T>(ValueTask<T> operation)
    {
        var awaiter = operation.ConfigureAwait(false).GetAwaiter();
        if (!awaiter.IsCompleted)
        {
            Sleep(awaiter);
        }
        return awaiter.GetResult();
    }

    private void Sleep<TAwaiter>(TAwaiter awaiter)
        where TAwaiter : ICriticalNotifyCompletion
    {
        _completed.Reset();
        awaiter.UnsafeOnCompleted(_completed.Set);
        _completed.Wait();
    }
}
