using System.Globalization;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LiteFs.Http;

public sealed partial class NodeServer
{
    /// <summary>Bytes of frames gathered before they go to Kestrel; every logical step is flushed anyway.</summary>
    private const int StreamBufferSize = 16 * 1024;

    private Task ErrorAsync(HttpContext context, int status, string message)
    {
        LogHttpError(status, message);
        return HttpErrors.WriteAsync(context, status, message);
    }

    /// <summary>Whether the replica said it is a candidate (<c>Litefs-Candidate</c>, sent by this implementation only); null when it did not say.</summary>
    private static bool? CallerCandidate(HttpRequest request) =>
        bool.TryParse(request.Headers["Litefs-Candidate"].ToString(), out var candidate) ? candidate : null;

    /// <summary>
    /// <c>POST /stream</c>: checks (HTTP/2, not self, primary, position map) all before the 200;
    /// then the frames, written by <see cref="PrimaryStreamer"/> on a thread of its own.
    /// </summary>
    private async Task StreamAsync(HttpContext context)
    {
        var request = context.Request;
        if (HttpProtocol.IsHttp10(request.Protocol) || HttpProtocol.IsHttp11(request.Protocol) || HttpProtocol.IsHttp09(request.Protocol))
        {
            await ErrorAsync(context, StatusCodes.Status426UpgradeRequired, "Upgrade to HTTP/2 required").ConfigureAwait(false);
            return;
        }
        var replicaId = CallerId(request);
        if (replicaId == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot connect to self").ConfigureAwait(false);
            return;
        }
        if (!_store.IsPrimary)
        {
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "lease expired").ConfigureAwait(false);
            return;
        }
        Dictionary<string, Pos> positions;
        try
        {
            positions = await PosMapCodec.ReadAsync(request.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return;
        }
        var filterText = Query(request, "filter");
        IReadOnlySet<string>? filter = filterText.Length == 0 ? null : new HashSet<string>(filterText.Split(','), StringComparer.Ordinal);

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        // PrimaryStreamer writes synchronously, from a thread of its own (never a pool thread).
        context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
        await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);

        var idText = replicaId.ToString("X16", CultureInfo.InvariantCulture);
        Interlocked.Increment(ref _streamCount);
        _connectedReplicas.AddOrUpdate(replicaId, 1, (_, n) => n + 1);
        // A handoff to this replica goes through its newest stream.
        var handoff = new StreamHandoff { Candidate = CallerCandidate(request) };
        _handoffs[replicaId] = handoff;
        LogStreamConnected(idText);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _shutdown.Token);
        try
        {
            var body = response.Body;
            var token = stop.Token;
            await Task.Factory.StartNew(
                () => _streamer.Run(replicaId, positions, filter, new BufferedStream(body, StreamBufferSize), handoff, token),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _handoffs.TryRemove(new KeyValuePair<ulong, StreamHandoff>(replicaId, handoff));
            if (_connectedReplicas.AddOrUpdate(replicaId, 0, (_, n) => n - 1) <= 0)
            {
                _connectedReplicas.TryRemove(new KeyValuePair<ulong, int>(replicaId, 0));
            }
            Interlocked.Decrement(ref _streamCount);
            LogStreamDisconnected(idText);
        }
    }
}
