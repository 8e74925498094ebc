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
    private readonly ManualResetEventSlim _completed = new(initialState: false, spinCount: 0);
    private byte[]? _bounce;

    public override int Read(byte[] buffer, int offset, int count) => Await(inner.ReadAsync(buffer.AsMemory(offset, count)));

    public override int Read(Span<byte> buffer)
    {
        // A span cannot outlive the call the pending read outlives: it goes through a buffer of our own.
        _bounce ??= new byte[64 * 1024];
        var n = Await(inner.ReadAsync(_bounce.AsMemory(0, Math.Min(buffer.Length, _bounce.Length))));
        _bounce.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    /// <summary>Consumes <paramref name="read"/> once, as an await would, sleeping until it completes.</summary>
    private int Await(ValueTask<int> read)
    {
        var awaiter = read.ConfigureAwait(false).GetAwaiter();
        if (!awaiter.IsCompleted)
        {
            _completed.Reset();
            awaiter.UnsafeOnCompleted(_completed.Set);
            _completed.Wait();
        }
        return awaiter.GetResult();
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
