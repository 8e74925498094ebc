using System.Globalization;
using System.Text.Json;
using System.Buffers;
using System.Text;
using LiteFs.Core;
using LiteFs.Core.Leases;
using LiteFs.Core.Replication;
using LiteFs.Ltx;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LiteFs.Http;

public sealed partial class NodeServer
{
    /// <summary>
    /// <c>POST /halt?name=&amp;id=</c>: grants the database's HALT lock to the calling replica
    /// (<see cref="HaltLock.Grant"/>: waits up to 10 s for local transactions or another HALT
    /// lock; a retry with the granted lock's ID gets it back at once), after rolling back a hot
    /// journal and checkpointing the WAL. Answers the lock as JSON. Only the primary grants it.
    /// </summary>
    private async Task HaltAsync(HttpContext context)
    {
        var text = Query(context.Request, "id");
        if (!HttpErrors.TryParseInt64(text, out var id))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, $"invalid id: {HttpErrors.GoQuote(text)}").ConfigureAwait(false);
            return;
        }
        var caller = CallerId(context.Request);
        if (caller == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot remotely halt self").ConfigureAwait(false);
            return;
        }
        if (!_store.Role.CanWrite)
        {
            // Upstream grants it on any node; a replica's write lock would hold off nothing that matters.
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "acquire halt lock: node is not currently primary").ConfigureAwait(false);
            return;
        }
        Db db;
        try
        {
            db = _store.GetOrCreate(Query(context.Request, "name"));
        }
        catch (LiteFsException ex)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "create db: " + ex.Message).ConfigureAwait(false);
            return;
        }
        HaltLockInfo info;
        try
        {
            var token = context.RequestAborted;
            info = await Task.Run(() => db.Halt.Grant(id, caller, static d => d.PrepareForHalt(), token), token).ConfigureAwait(false);
            _store.Forwarding.Record(ForwardingEvent.HaltGranted, db.Name, id);
        }
        catch (Exception ex) when (ex is ArgumentException or TimeoutException or LiteFsException or IOException)
        {
            var message = ex is ArgumentException ? "halt lock id required" : ex.Message;
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "acquire halt lock: " + message).ConfigureAwait(false);
            return;
        }
        var body = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body, CompactJson))
        {
            WriteHaltLock(json, info);
        }
        body.Write("\n"u8);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength = body.WrittenCount;
        await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>A HALT lock as upstream's JSON: <c>{"id":..,"pos":{"TXID":..,"PostApplyChecksum":..},"expires":..}</c>.</summary>
    internal static void WriteHaltLock(Utf8JsonWriter json, HaltLockInfo info)
    {
        json.WriteStartObject();
        json.WriteNumber("id", info.Id);
        json.WriteStartObject("pos");
        json.WriteString("TXID", info.Pos.TxId.ToString());
        json.WriteString("PostApplyChecksum", info.Pos.PostApplyChecksum.ToString());
        json.WriteEndObject();
        if (info.Expires is { } expires)
        {
            json.WriteString("expires", FormatRfc3339Nano(expires.ToLocalTime()));
        }
        else
        {
            json.WriteNull("expires");
        }
        json.WriteEndObject();
    }

    /// <summary>A time as Go's <c>time.RFC3339Nano</c> writes it: fractional seconds without trailing zeros, <c>Z</c> for UTC.</summary>
    internal static string FormatRfc3339Nano(DateTimeOffset time)
    {
        var text = time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture).TrimEnd('0').TrimEnd('.');
        return text + (time.Offset == TimeSpan.Zero ? "Z" : time.ToString("zzz", CultureInfo.InvariantCulture));
    }

    /// <summary><c>DELETE /halt?name=&amp;id=</c>: releases the database's HALT lock if it is held under that ID; otherwise nothing. Always 200.</summary>
    private async Task UnhaltAsync(HttpContext context)
    {
        var text = Query(context.Request, "id");
        if (!HttpErrors.TryParseInt64(text, out var id))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, $"invalid id: {HttpErrors.GoQuote(text)}").ConfigureAwait(false);
            return;
        }
        if (CallerId(context.Request) == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot remotely unhalt self").ConfigureAwait(false);
            return;
        }
        if (_store.Find(Query(context.Request, "name")) is { } db && db.Halt.Release(id))
        {
            _store.Forwarding.Record(ForwardingEvent.HaltReleased, db.Name, id);
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// <c>POST /tx?name=&amp;lockID=</c>: a transaction committed on the replica that holds the
    /// HALT lock, as a raw LTX file. Accepted only from the node the lock was granted to, under
    /// its lock ID, and only after the whole file was checked against the database
    /// (<see cref="Db.ApplyForwarded"/>: position, encoding, file checksum, the post-apply
    /// checksum computed from the pages); anything else is refused with 4xx and changes nothing.
    /// </summary>
    private async Task TxAsync(HttpContext context)
    {
        var caller = CallerId(context.Request);
        if (caller == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot remotely halt self").ConfigureAwait(false);
            return;
        }
        var name = Query(context.Request, "name");
        if (_store.Find(name) is not { } db)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, $"database not found: {HttpErrors.GoQuote(name)}").ConfigureAwait(false);
            return;
        }
        var lockText = Query(context.Request, "lockID");
        if (!HttpErrors.TryParseInt64(lockText, out var lockId) || !db.Halt.IsHeldBy(lockId, caller))
        {
            await ErrorAsync(context, StatusCodes.Status409Conflict,
                $"no halt lock is held on {HttpErrors.GoQuote(name)} by this node under lock id {HttpErrors.GoQuote(lockText)}").ConfigureAwait(false);
            return;
        }
        var head = new byte[LtxLayout.HeaderSize];
        var read = 0;
        while (read < head.Length)
        {
            var n = await context.Request.Body.ReadAsync(head.AsMemory(read), context.RequestAborted).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            read += n;
        }
        if (read < head.Length || !LtxHeader.TryRead(head, out _, out _))
        {
            // Go's io.ReadFull: EOF when nothing came, unexpected EOF when part of it did.
            var error = read == head.Length ? "invalid LTX file" : read == 0 ? "EOF" : "unexpected EOF";
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "write ltx file: decode ltx header: " + error).ConfigureAwait(false);
            return;
        }
        try
        {
            var token = context.RequestAborted;
            // The body is read synchronously on a pool thread, as the stream's frames are written.
            context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
            var body = context.Request.Body;
            await Task.Run(() => db.ApplyForwarded(head, body, token), token).ConfigureAwait(false);
            _store.Forwarding.Record(ForwardingEvent.ForwardedTransactionApplied, db.Name, lockId);
        }
        catch (FatalDatabaseException)
        {
            // The node is shutting down (exit 99); no answer, as upstream.
            context.Abort();
            return;
        }
        catch (LiteFsException ex)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "write ltx file: " + ex.Message).ConfigureAwait(false);
            return;
        }
        catch (IOException ex)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "write ltx file: " + ex.Message).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// <c>POST /handoff?nodeID=</c>: upstream's checks in order, then the lease monitor hands the
    /// lease to the replica through its stream (replication-protocol.md §7.1). Answers once the
    /// HANDOFF frame was sent (upstream answers once its lease loop took the request): the caller
    /// then knows the target has everything this node committed.
    /// </summary>
    private async Task HandoffAsync(HttpContext context)
    {
        if (!HttpErrors.TryParseHex(Query(context.Request, "nodeID"), out var target))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid node id").ConfigureAwait(false);
            return;
        }
        var monitor = _store.Lease as LeaseMonitor;
        string? error = !_store.IsPrimary ? "node is not currently primary"
            : !IsReplicaConnected(target) ? "target node is not currently connected"
            : _store.Lease is StaticLease ? "static lease does not support handoff"
            : monitor is null || !monitor.Leaser.SupportsHandoff ? $"{monitor?.Leaser.Type ?? "this"} lease does not support handoff"
            : null;
        StreamHandoff? slot = null;
        if (error is null && (!_handoffs.TryGetValue(target, out slot) || !slot.TryArm()))
        {
            error = "target node is not currently connected";
        }
        if (error is not null)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "cannot handoff: " + error).ConfigureAwait(false);
            return;
        }
        LogHandoffRequested(target.ToString("X16", CultureInfo.InvariantCulture));
        try
        {
            await monitor!.HandoffAsync(slot!.DeliverAsync, _shutdown.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LeaseException or NotSupportedException or OperationCanceledException)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "cannot handoff: " + ex.Message).ConfigureAwait(false);
        }
        finally
        {
            // A handoff that never delivered its lease ID leaves the stream as it was.
            slot!.Disarm();
        }
    }

    /// <summary>
    /// A primary that stops hands its lease to a connected replica that said it is a candidate
    /// (<c>Litefs-Candidate</c> on its stream), so the next primary starts from everything this
    /// node committed without waiting for the lease to expire. Returns the replica's node ID, or
    /// null when there was none to hand to or the handoff failed (the lease is then released on
    /// stop, as upstream does).
    /// </summary>
    public async Task<string?> HandOffToCandidateAsync(CancellationToken cancellationToken)
    {
        if (!_store.IsPrimary || _store.Lease is not LeaseMonitor { Leaser.SupportsHandoff: true } monitor)
        {
            return null;
        }
        foreach (var (target, slot) in _handoffs)
        {
            if (slot.Candidate != true || !slot.TryArm())
            {
                continue;
            }
            var idText = target.ToString("X16", CultureInfo.InvariantCulture);
            LogHandoffRequested(idText);
            try
            {
                await monitor.HandoffAsync(slot.DeliverAsync, cancellationToken).ConfigureAwait(false);
                return idText;
            }
            catch (Exception ex) when (ex is LeaseException or NotSupportedException or OperationCanceledException)
            {
                LogHandoffFailed(idText, ex.Message);
                if (!_store.IsPrimary)
                {
                    return null;
                }
            }
            finally
            {
                slot.Disarm();
            }
        }
        return null;
    }

    /// <summary>
    /// <c>POST /promote</c>: become primary by asking the current primary for a handoff. With a
    /// lease that moves, answers once this node is primary (or the wait for it failed).
    /// </summary>
    private async Task PromoteAsync(HttpContext context)
    {
        if (!IsCandidate)
        {
            await ErrorAsync(context, StatusCodes.Status409Conflict, "not eligible to become primary").ConfigureAwait(false);
            return;
        }
        if (_store.IsPrimary)
        {
            LogAlreadyPrimary();
            return;
        }
        if (_store.Lease.PrimaryAdvertiseUrl is not { Length: > 0 } primaryUrl)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "no primary is currently available for handoff, cannot promote").ConfigureAwait(false);
            return;
        }
        try
        {
            if (_store.Lease is LeaseMonitor monitor)
            {
                await monitor.RequestPromotionAsync(context.RequestAborted).ConfigureAwait(false);
            }
            else
            {
                await Client.HandoffAsync(primaryUrl, _store.NodeId, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (LeaseException ex) when (ex.Message.StartsWith("no primary", StringComparison.Ordinal))
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, ex.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NodeApiException or HttpRequestException or IOException or LeaseException or NotSupportedException)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "handoff failed: " + ex.Message).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>POST /import?name=</c>: replaces the database on the primary with the SQLite file in
    /// the body (<see cref="Db.Import"/>: staged to disk as it arrives, checked to be a whole SQLite
    /// database before anything is replaced, then recorded as one transaction that replicates).
    /// A file that is not one gets 400 with the reason; nothing is replaced.
    /// </summary>
    private async Task ImportAsync(HttpContext context)
    {
        var name = Query(context.Request, "name");
        if (name.Length == 0)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "name required").ConfigureAwait(false);
            return;
        }
        if (!_store.IsPrimary)
        {
            await ForwardImportAsync(context, name).ConfigureAwait(false);
            return;
        }
        Db db;
        try
        {
            db = _store.GetOrCreate(name);
        }
        catch (LiteFsException ex)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "create database: " + ex.Message).ConfigureAwait(false);
            return;
        }
        try
        {
            var token = context.RequestAborted;
            context.Features.GetRequiredFeature<IHttpBodyControlFeature>().AllowSynchronousIO = true;
            var body = context.Request.Body;
            var pos = await Task.Run(() => db.Import(body, token), token).ConfigureAwait(false);
            LogImported(name, pos);
            _store.Forwarding.Record(ForwardingEvent.Imported, db.Name, 0);
        }
        catch (FatalDatabaseException)
        {
            context.Abort();
            return;
        }
        catch (LiteFsException ex) when (ex.Error == LiteFsError.Invalid)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is LiteFsException or IOException)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, ex.Message).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// An import sent to a replica goes on to the primary, streamed (upstream answers 503 and
    /// leaves finding the primary to the caller). When the primary is not reachable the answer
    /// is upstream's 503 <c>lease expired</c>, with the reason.
    /// </summary>
    private async Task ForwardImportAsync(HttpContext context, string name)
    {
        if (_store.PrimaryUrl is not { Length: > 0 } primary)
        {
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "lease expired").ConfigureAwait(false);
            return;
        }
        try
        {
            using var client = new NodeClient();
            await client.ImportAsync(primary, name, context.Request.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (NodeApiException ex) when (ex.StatusCode is { } status)
        {
            // The primary's own answer, passed on.
            await ErrorAsync(context, status, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (NodeApiException ex)
        {
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, $"lease expired: cannot reach the primary at {primary} to import there: {ex.Message}").ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentLength = 0;
    }

    /// <summary>
    /// <c>GET /export?name=</c>: the database as a plain SQLite file, page 1 to the page count,
    /// each page as of the current position (WAL pages included), on any node. Built from a
    /// snapshot (spooled to a temporary file, so the read locks are held only while it is taken).
    /// An error after the 200 is appended to the body as text, as upstream does.
    /// </summary>
    private async Task ExportAsync(HttpContext context)
    {
        var name = Query(context.Request, "name");
        if (name.Length == 0)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "name required").ConfigureAwait(false);
            return;
        }
        if (_store.Find(name) is not { } db)
        {
            await ErrorAsync(context, StatusCodes.Status404NotFound, "database not found").ConfigureAwait(false);
            return;
        }
        var spool = new FileStream(Path.Combine(Path.GetTempPath(), $"litefs-export-{Guid.NewGuid():N}.ltx"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        await using (spool.ConfigureAwait(false))
        {
            try
            {
                var token = context.RequestAborted;
                await Task.Run(() => db.WriteSnapshot(spool, TimeSpan.Zero, token), token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LiteFsException or IOException)
            {
                await ErrorAsync(context, StatusCodes.Status500InternalServerError, "write snapshot: " + ex.Message).ConfigureAwait(false);
                return;
            }
            spool.Position = 0;
            var response = context.Response;
            response.Headers.ContentType = "application/octet-stream";
            try
            {
                await WriteRawPagesAsync(spool, response.Body, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LtxFormatException or LiteFsException)
            {
                await response.Body.WriteAsync(Encoding.UTF8.GetBytes(ex.Message + "\n"), context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes a snapshot's pages in order as raw database bytes; the lock page (never in LTX) as zeros.</summary>
    private static async Task WriteRawPagesAsync(Stream snapshot, Stream output, CancellationToken cancellationToken)
    {
        using var decoder = new LtxDecoder(snapshot);
        var header = decoder.ReadHeader();
        var page = ArrayPool<byte>.Shared.Rent(header.PageSize);
        try
        {
            var memory = page.AsMemory(0, header.PageSize);
            uint next = 1;
            while (decoder.ReadPage(out var pageHeader, memory.Span))
            {
                for (; next < pageHeader.Pgno; next++)
                {
                    await output.WriteAsync(new byte[header.PageSize], cancellationToken).ConfigureAwait(false);
                }
                await output.WriteAsync(memory, cancellationToken).ConfigureAwait(false);
                next = pageHeader.Pgno + 1;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(305, Microsoft.Extensions.Logging.LogLevel.Information, "node is already primary, skipping promotion")]
    private partial void LogAlreadyPrimary();

    [Microsoft.Extensions.Logging.LoggerMessage(306, Microsoft.Extensions.Logging.LogLevel.Information, "handoff to replica {ReplicaId} requested")]
    private partial void LogHandoffRequested(string replicaId);

    [Microsoft.Extensions.Logging.LoggerMessage(307, Microsoft.Extensions.Logging.LogLevel.Warning, "handoff to replica {ReplicaId} failed: {Error}")]
    private partial void LogHandoffFailed(string replicaId, string error);
}
