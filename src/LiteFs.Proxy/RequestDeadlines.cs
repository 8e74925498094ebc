using Microsoft.AspNetCore.Http;

namespace LiteFs.Proxy;

/// <summary>
/// Go's server deadlines for one request, which Kestrel has no setting for: <c>read-timeout</c>
/// (the whole request, body included, must have arrived) and <c>write-timeout</c> (the response
/// must be finished), both counted from the request's start. A missed deadline cuts the
/// connection, as an expired deadline does in Go. Disposed when the request ends.
/// </summary>
internal sealed class RequestDeadlines : IDisposable
{
    private readonly ITimer? _read;
    private readonly ITimer? _write;
    private readonly BodyEndStream? _body;

    private RequestDeadlines(HttpContext context, ProxyOptions options, TimeProvider time)
    {
        if (options.ReadTimeout > TimeSpan.Zero && context.Request.ContentLength != 0)
        {
            _body = new BodyEndStream(context.Request.Body);
            context.Request.Body = _body;
            _read = time.CreateTimer(_ =>
            {
                if (!_body.Ended)
                {
                    context.Abort();
                }
            }, null, options.ReadTimeout, Timeout.InfiniteTimeSpan);
        }
        if (options.WriteTimeout > TimeSpan.Zero)
        {
            _write = time.CreateTimer(_ => context.Abort(), null, options.WriteTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Arms the deadlines the options ask for; null when there are none.</summary>
    public static RequestDeadlines? Arm(HttpContext context, ProxyOptions options, TimeProvider time) =>
        options.ReadTimeout > TimeSpan.Zero || options.WriteTimeout > TimeSpan.Zero ? new RequestDeadlines(context, options, time) : null;

    public void Dispose()
    {
        _read?.Dispose();
        _write?.Dispose();
    }

    /// <summary>The request body, noting when it has been read to its end.</summary>
    private sealed class BodyEndStream(Stream inner) : Stream
    {
        private volatile bool _ended;

        public bool Ended => _ended;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Note(inner.Read(buffer, offset, count), count);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Note(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Note(int read, int asked)
        {
            if (read == 0 && asked > 0)
            {
                _ended = true;
            }
            return read;
        }
    }
}
