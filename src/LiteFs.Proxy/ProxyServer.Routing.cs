using System.Text;
using LiteFs.Ltx;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace LiteFs.Proxy;

public sealed partial class ProxyServer
{
    /// <summary>One request: timeouts armed, then routed (proxy.md §2).</summary>
    private async Task HandleAsync(HttpContext context)
    {
        using var deadlines = RequestDeadlines.Arm(context, _options, _time);
        var request = context.Request;
        var path = request.Path.Value ?? "";
        var isUpgrade = context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
            || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;
        var route = _router.Classify(request.Method, path, isUpgrade);
        Metrics.CountRoute(route);
        try
        {
            switch (route)
            {
                case Route.Passthrough:
                    Debug(context, "passthrough");
                    await ForwardToTargetAsync(context, _plainTransformer).ConfigureAwait(false);
                    break;
                case Route.Health:
                    await HealthAsync(context).ConfigureAwait(false);
                    break;
                case Route.Read:
                    await ReadAsync(context).ConfigureAwait(false);
                    break;
                default:
                    await WriteAsync(context).ConfigureAwait(false);
                    break;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away while the request waited.
        }
    }

    /// <summary>
    /// <c>GET /litefs/health</c> (proxy.md §5), and beyond upstream: a replica that keeps failing
    /// to follow its primary (the store's health, as <c>/info</c> reports it) answers 503 too, so
    /// that a load balancer stops sending it reads it may never catch up on.
    /// </summary>
    private Task HealthAsync(HttpContext context)
    {
        if (_store.ReplicationFailure is { } failure)
        {
            return PlainTextAsync(context, StatusCodes.Status503ServiceUnavailable, "Replication failing: " + failure.ReplaceLineEndings(" "));
        }
        var lag = _store.IsReady ? _store.Lag : TimeSpan.Zero;
        return _options.MaxLag > TimeSpan.Zero && lag > _options.MaxLag
            ? PlainTextAsync(context, StatusCodes.Status503ServiceUnavailable, "Replication lag exceeded")
            : PlainTextAsync(context, StatusCodes.Status200OK, "OK");
    }

    /// <summary>A read: wait until this node has the client's TXID (cookie or header), then the local application.</summary>
    private async Task ReadAsync(HttpContext context)
    {
        var request = context.Request;
        var wanted = TxIdToken.FromRequest(request.Headers.Cookie, request.Headers[ProxyOptions.TxIdHeaderName]);
        if (wanted != TxId.Zero && _store.Find(_options.Db) is { } db && db.Pos.TxId < wanted)
        {
            var started = _time.GetTimestamp();
            while (db.Pos.TxId < wanted)
            {
                if (_time.GetElapsedTime(started) >= ProxyOptions.TxIdTimeout)
                {
                    Metrics.CountTxIdWait(_time.GetElapsedTime(started), timedOut: true);
                    Debug(context, "read: timed out waiting for TXID " + wanted);
                    await PlainTextAsync(context, StatusCodes.Status504GatewayTimeout, "Proxy timeout").ConfigureAwait(false);
                    return;
                }
                await Task.Delay(ProxyOptions.TxIdPollInterval, _time, context.RequestAborted).ConfigureAwait(false);
            }
            Metrics.CountTxIdWait(_time.GetElapsedTime(started), timedOut: false);
            Debug(context, "read: reached TXID " + wanted);
        }
        else
        {
            Debug(context, "read");
        }
        await ForwardToTargetAsync(context, _plainTransformer).ConfigureAwait(false);
    }

    /// <summary>A write: served on the primary; a replica forwards it to the primary's proxy or answers <c>fly-replay</c>.</summary>
    private async Task WriteAsync(HttpContext context)
    {
        var request = context.Request;
        var transformer = RequestRouter.IsReadMethod(request.Method) ? _plainTransformer : _txIdTransformer;
        if (request.Headers[ProxyOptions.ForwardedHeaderName] is { Count: > 0 } from)
        {
            // Forwarded by a replica: serve it here or refuse, never forward it again.
            if (_store.IsPrimary)
            {
                Debug(context, "write forwarded by node " + from + ": to the application");
                await ForwardToTargetAsync(context, transformer).ConfigureAwait(false);
                return;
            }
            LogForwardedToReplica(request.Method, request.Path.Value ?? "", from.ToString());
            Metrics.CountForwardError();
            await PlainTextAsync(context, StatusCodes.Status503ServiceUnavailable, "Proxy error: forwarded write reached a node that is not the primary").ConfigureAwait(false);
            return;
        }

        // The redirect timeout covers the whole search for the primary: learning one, and while
        // the primary moves (its lease not yet expired, or its proxy already gone), trying again.
        var started = _time.GetTimestamp();
        string? unreachable = null; // why the last attempt could not reach the primary's proxy
        var counted = false;
        while (true)
        {
            if (!await WaitForPrimaryAsync(started, context.RequestAborted).ConfigureAwait(false))
            {
                if (unreachable is not null)
                {
                    await PlainTextAsync(context, StatusCodes.Status502BadGateway, "Proxy error: " + unreachable).ConfigureAwait(false);
                    return;
                }
                Metrics.CountNoPrimary();
                Debug(context, "write: no primary");
                await PlainTextAsync(context, StatusCodes.Status503ServiceUnavailable, "Proxy error: no primary available").ConfigureAwait(false);
                return;
            }
            if (_store.IsPrimary)
            {
                Debug(context, "write: primary, to the application");
                await ForwardToTargetAsync(context, transformer).ConfigureAwait(false);
                return;
            }

            var hostname = _store.ConnectedPrimaryHostname ?? _store.Lease.PrimaryHostname ?? "";
            var primaryApi = _store.Lease.PrimaryAdvertiseUrl;
            if (_options.ForwardMode == ForwardMode.Proxy && primaryApi is { Length: > 0 })
            {
                var located = await _locator.LocateAsync(primaryApi).ConfigureAwait(false);
                if (located.Error is { } error)
                {
                    LogForwardError(request.Method, request.Path.Value ?? "", error);
                    Metrics.CountForwardError();
                    _locator.Invalidate(primaryApi);
                    unreachable = error;
                }
                else if (located.Url is { } primaryProxy)
                {
                    Debug(context, "write: replica, forwarded to " + primaryProxy);
                    if (!counted)
                    {
                        Metrics.CountForwarded();
                        counted = true;
                    }
                    unreachable = await ForwardToPrimaryAsync(context, primaryProxy, primaryApi).ConfigureAwait(false);
                    if (unreachable is null)
                    {
                        return;
                    }
                }
                else
                {
                    if (!string.Equals(Volatile.Read(ref _fallbackLoggedFor), primaryApi, StringComparison.Ordinal))
                    {
                        Volatile.Write(ref _fallbackLoggedFor, primaryApi);
                        LogFlyReplayFallback(primaryApi);
                    }
                    FlyReplay(context, hostname);
                    return;
                }
                if (_time.GetElapsedTime(started) + ProxyOptions.DialRetryInterval >= _options.PrimaryRedirectTimeout)
                {
                    await PlainTextAsync(context, StatusCodes.Status502BadGateway, "Proxy error: " + unreachable).ConfigureAwait(false);
                    return;
                }
                await Task.Delay(ProxyOptions.DialRetryInterval, _time, context.RequestAborted).ConfigureAwait(false);
                continue;
            }
            FlyReplay(context, hostname);
            return;
        }
    }

    /// <summary>Upstream's answer on a replica: 200, <c>fly-replay: instance=PRIMARY</c>, no body.</summary>
    private void FlyReplay(HttpContext context, string hostname)
    {
        Debug(context, "write: replica, fly-replay to " + hostname);
        Metrics.CountReplayed();
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["Fly-Replay"] = "instance=" + hostname;
        context.Response.ContentLength = 0;
    }

    /// <summary>Polls (every 100 µs, until <c>primary-redirect-timeout</c> after <paramref name="started"/>) until this node is primary or streams from one.</summary>
    private async Task<bool> WaitForPrimaryAsync(long started, CancellationToken cancellationToken)
    {
        while (!_store.IsPrimary && _store.ConnectedPrimaryHostname is null)
        {
            if (_time.GetElapsedTime(started) >= _options.PrimaryRedirectTimeout)
            {
                return false;
            }
            await Task.Delay(ProxyOptions.PrimaryPollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    private async Task ForwardToTargetAsync(HttpContext context, HttpTransformer transformer)
    {
        var error = await _forwarder.SendAsync(context, _targetPrefix, _targetClient, _requestConfig, transformer).ConfigureAwait(false);
        if (error != ForwarderError.None)
        {
            var message = ErrorText(context, error);
            LogUpstreamError(context.Request.Method, context.Request.Path.Value ?? "", message);
            Metrics.CountUpstreamError();
            await ProxyErrorAsync(context, message).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends the request to the primary's proxy and relays the answer. Returns null when done
    /// (answered, or a failure already reported to the client); when the primary's proxy could
    /// not be connected to, so nothing of the request was sent or read, returns why and leaves the
    /// response untouched for another attempt.
    /// </summary>
    private async Task<string?> ForwardToPrimaryAsync(HttpContext context, string primaryProxy, string primaryApi)
    {
        var error = await _forwarder.SendAsync(context, primaryProxy, _primaryClient, _requestConfig, _primaryTransformer).ConfigureAwait(false);
        if (error == ForwarderError.None)
        {
            return null;
        }
        var message = ErrorText(context, error);
        LogForwardError(context.Request.Method, context.Request.Path.Value ?? "", message);
        Metrics.CountForwardError();
        if (error == ForwarderError.Request)
        {
            // The primary's proxy could not be reached: ask the primary again next time.
            _locator.Invalidate(primaryApi);
            if (IsConnectFailure(context) && !context.Response.HasStarted)
            {
                context.Features.Set<IForwarderErrorFeature>(null);
                context.Response.StatusCode = StatusCodes.Status200OK;
                return message;
            }
        }
        await ProxyErrorAsync(context, message).ConfigureAwait(false);
        return null;
    }

    /// <summary>Whether the forwarder failed to open a connection, before sending anything.</summary>
    private static bool IsConnectFailure(HttpContext context) =>
        context.GetForwarderErrorFeature()?.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };

    private static string ErrorText(HttpContext context, ForwarderError error)
    {
        var exception = context.GetForwarderErrorFeature()?.Exception;
        var inner = exception;
        while (inner?.InnerException is not null && inner is HttpRequestException or AggregateException)
        {
            inner = inner.InnerException;
        }
        return inner?.Message is { Length: > 0 } text ? text : error.ToString();
    }

    /// <summary>502 with upstream's body when nothing of the response was sent yet (else the connection is already cut).</summary>
    private static Task ProxyErrorAsync(HttpContext context, string message) =>
        context.Response.HasStarted || context.RequestAborted.IsCancellationRequested
            ? Task.CompletedTask
            : PlainTextAsync(context, StatusCodes.Status502BadGateway, "Proxy error: " + message);

    /// <summary>Go's <c>http.Error</c>: status, plain text, <c>nosniff</c>, message and a newline.</summary>
    private static Task PlainTextAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.Clear();
        response.StatusCode = status;
        response.Headers.ContentType = "text/plain; charset=utf-8";
        response.Headers.XContentTypeOptions = "nosniff";
        var body = Encoding.UTF8.GetBytes(message + "\n");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    private void Debug(HttpContext context, string decision)
    {
        if (_options.Debug)
        {
            LogRoute(context.Request.Method, context.Request.Path.Value ?? "", decision);
        }
    }
}
