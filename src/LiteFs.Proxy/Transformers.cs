using LiteFs.Core;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace LiteFs.Proxy;

/// <summary>
/// Requests to this node's application: everything copied, the client's <c>Host</c> kept (as
/// upstream), no <c>X-Forwarded-*</c> added. With <c>setTxId</c>, once the application's response
/// headers arrive the database's current TXID goes back as the <c>__txid</c> cookie and the
/// <c>Litefs-Txid</c> header (writes other than GET/HEAD on the primary).
/// </summary>
internal sealed class TargetTransformer(Store store, string db, TimeProvider time, bool setTxId) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        proxyRequest.Headers.Host = httpContext.Request.Host.Value;
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        // Read after the response headers arrived, so the TXID covers what the application committed.
        if (setTxId && proxyResponse is not null && store.Find(db) is { } database)
        {
            var txId = database.Pos.TxId;
            httpContext.Response.Headers.Append("Set-Cookie", TxIdToken.FormatSetCookie(txId, time.GetUtcNow()));
            httpContext.Response.Headers[ProxyOptions.TxIdHeaderName] = txId.ToString();
        }
        return copy;
    }
}

/// <summary>
/// A write from a replica to the primary's proxy: everything copied, <c>Host</c> kept,
/// <c>X-Forwarded-For</c> (appended), <c>-Proto</c> and <c>-Host</c> set, and the request marked
/// with <c>Litefs-Forwarded-By</c> so the primary's proxy never forwards it again. The primary's
/// response, <c>Set-Cookie</c> included, is relayed unchanged.
/// </summary>
internal sealed class PrimaryTransformer(string nodeId) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        var request = httpContext.Request;
        proxyRequest.Headers.Host = request.Host.Value;
        var client = httpContext.Connection.RemoteIpAddress?.ToString();
        var earlier = request.Headers["X-Forwarded-For"].ToString();
        proxyRequest.Headers.Remove("X-Forwarded-For");
        proxyRequest.Headers.Remove("X-Forwarded-Proto");
        proxyRequest.Headers.Remove("X-Forwarded-Host");
        proxyRequest.Headers.Remove(ProxyOptions.ForwardedHeaderName);
        if (client is not null || earlier.Length > 0)
        {
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", earlier.Length == 0 ? client : client is null ? earlier : earlier + ", " + client);
        }
        proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", request.Scheme);
        if (request.Host.HasValue)
        {
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", request.Host.Value);
        }
        proxyRequest.Headers.TryAddWithoutValidation(ProxyOptions.ForwardedHeaderName, nodeId);
    }
}
