using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Http.Features;

namespace LiteFs.Http;

/// <summary>
/// Lets one cleartext Kestrel endpoint serve both HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
/// Kestrel picks HTTP/1.1 on a cleartext <c>Http1AndHttp2</c> endpoint because, without ALPN, the
/// choice is ambiguous; this connection middleware resolves it the way ALPN would. It examines
/// (without consuming) the first bytes of the connection and, when they are the HTTP/2 connection
/// preface, gives the connection TLS-like features saying "h2 was negotiated", which is what
/// Kestrel's protocol selection reads. No TLS takes place; no other feature is set.
/// </summary>
internal static class H2cPrefaceDetector
{
    /// <summary>The HTTP/2 client connection preface (RFC 9113 §3.4).</summary>
    internal static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>A client that sends nothing for this long is left to Kestrel's own timeouts, as HTTP/1.1.</summary>
    private static readonly TimeSpan PeekTimeout = TimeSpan.FromSeconds(10);

    private enum Verdict
    {
        NeedMore,
        Http1,
        Http2,
    }

    /// <summary>The connection middleware: classify, mark h2 connections, continue.</summary>
    public static async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next, TimeProvider time)
    {
        if (await IsHttp2Async(connection.Transport.Input, connection.ConnectionClosed, time).ConfigureAwait(false))
        {
            var feature = new NegotiatedH2Feature();
            connection.Features.Set<ITlsConnectionFeature>(feature);
            connection.Features.Set<ITlsApplicationProtocolFeature>(feature);
        }
        await next(connection).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads until the first bytes either are or cannot be the preface. Leaves every byte
    /// unconsumed, and the examined position where the previous read left it, so Kestrel's first
    /// read returns the buffered bytes at once instead of waiting for more.
    /// </summary>
    internal static async ValueTask<bool> IsHttp2Async(PipeReader input, CancellationToken connectionClosed, TimeProvider time)
    {
        using var peek = new CancellationTokenSource(PeekTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed, peek.Token);
        long examined = 0;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            var buffer = result.Buffer;
            var verdict = Classify(buffer);
            if (verdict != Verdict.NeedMore || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start, buffer.GetPosition(examined));
                return verdict == Verdict.Http2;
            }
            examined = buffer.Length;
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static Verdict Classify(ReadOnlySequence<byte> buffer)
    {
        var preface = Preface;
        var length = (int)Math.Min(buffer.Length, preface.Length);
        Span<byte> head = stackalloc byte[24];
        buffer.Slice(0, length).CopyTo(head);
        if (!head[..length].SequenceEqual(preface[..length]))
        {
            return Verdict.Http1;
        }
        return length == preface.Length ? Verdict.Http2 : Verdict.NeedMore;
    }

    /// <summary>What Kestrel reads to choose HTTP/2: a "TLS" connection whose ALPN protocol is h2.</summary>
    private sealed class NegotiatedH2Feature : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        private static readonly byte[] H2 = "h2"u8.ToArray();

        public X509Certificate2? ClientCertificate
        {
            get => null;
            set => throw new NotSupportedException("h2c connections have no client certificate");
        }

        public ReadOnlyMemory<byte> ApplicationProtocol => H2;

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
