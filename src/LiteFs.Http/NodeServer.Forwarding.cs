using System.Buffers;
using System.Text;
using LiteFs.Core;
using LiteFs.Ltx;
using Microsoft.AspNetCore.Http;

namespace LiteFs.Http;

public sealed partial class NodeServer
{
    /// <summary>What a request gets that passed every check but needs the HALT lock on the primary.</summary>
    internal const string WriteForwardingUnsupported = "write forwarding is not supported by this node yet";

    /// <summary><c>POST /halt?name=&amp;id=</c>: id and self checks; acquiring the HALT lock itself is not available.</summary>
    private async Task HaltAsync(HttpContext context)
    {
        var id = Query(context.Request, "id");
        if (!HttpErrors.TryParseInt64(id, out _))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, $"invalid id: {HttpErrors.GoQuote(id)}").ConfigureAwait(false);
            return;
        }
        if (CallerId(context.Request) == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot remotely halt self").ConfigureAwait(false);
            return;
        }
        await ErrorAsync(context, StatusCodes.Status501NotImplemented, WriteForwardingUnsupported).ConfigureAwait(false);
    }

    /// <summary><c>DELETE /halt?name=&amp;id=</c>: id and self checks; no HALT lock can be held here to release.</summary>
    private async Task UnhaltAsync(HttpContext context)
    {
        var id = Query(context.Request, "id");
        if (!HttpErrors.TryParseInt64(id, out _))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, $"invalid id: {HttpErrors.GoQuote(id)}").ConfigureAwait(false);
            return;
        }
        if (CallerId(context.Request) == _store.NodeId)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "cannot remotely unhalt self").ConfigureAwait(false);
            return;
        }
        await ErrorAsync(context, StatusCodes.Status501NotImplemented, WriteForwardingUnsupported).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST /tx?name=&amp;lockID=</c>: self check, database, LTX header and its position checks;
    /// committing the forwarded file (under a HALT lock) is not available.
    /// </summary>
    private async Task TxAsync(HttpContext context)
    {
        if (CallerId(context.Request) == _store.NodeId)
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
        string? error = null;
        if (read < head.Length)
        {
            // Go's io.ReadFull: EOF when nothing came, unexpected EOF when part of it did.
            error = read == 0 ? "decode ltx header: EOF" : "decode ltx header: unexpected EOF";
        }
        else if (!LtxHeader.TryRead(head, out var header, out _))
        {
            error = "decode ltx header: invalid LTX file";
        }
        else if (!header.IsSnapshot)
        {
            // Every local transaction recorded: the file must follow the last one SQLite committed.
            var pos = db.RecordCommitted();
            if (header.MinTxId != pos.TxId.Next)
            {
                error = $"non-sequential header minimum txid {header.MinTxId}, expecting {pos.TxId.Next}";
            }
            else if (header.PreApplyChecksum != pos.PostApplyChecksum)
            {
                error = $"pre-apply checksum mismatch: {header.PreApplyChecksum}, expecting {pos.PostApplyChecksum}";
            }
        }
        if (error is not null)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "write ltx file: " + error).ConfigureAwait(false);
            return;
        }
        await ErrorAsync(context, StatusCodes.Status501NotImplemented, WriteForwardingUnsupported).ConfigureAwait(false);
    }

    /// <summary><c>POST /handoff?nodeID=</c>: upstream's checks in order; no lease here can be handed off.</summary>
    private async Task HandoffAsync(HttpContext context)
    {
        if (!HttpErrors.TryParseHex(Query(context.Request, "nodeID"), out var target))
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "invalid node id").ConfigureAwait(false);
            return;
        }
        string? error = !_store.IsPrimary ? "node is not currently primary"
            : !IsReplicaConnected(target) ? "target node is not currently connected"
            : _store.Lease is StaticLease ? "static lease does not support handoff"
            : null;
        if (error is not null)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "cannot handoff: " + error).ConfigureAwait(false);
            return;
        }
        await ErrorAsync(context, StatusCodes.Status501NotImplemented, "cannot handoff: this node's lease does not support handoff yet").ConfigureAwait(false);
    }

    /// <summary><c>POST /promote</c>: become primary by asking the current primary for a handoff.</summary>
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
            await Client.HandoffAsync(primaryUrl, _store.NodeId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NodeApiException or HttpRequestException or IOException)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "handoff failed: " + ex.Message).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /import?name=</c>: name and primary checks; replacing a database from a SQLite file is not available.</summary>
    private async Task ImportAsync(HttpContext context)
    {
        if (Query(context.Request, "name").Length == 0)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "name required").ConfigureAwait(false);
            return;
        }
        if (!_store.IsPrimary)
        {
            await ErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "lease expired").ConfigureAwait(false);
            return;
        }
        await ErrorAsync(context, StatusCodes.Status501NotImplemented, "import is not supported by this node yet").ConfigureAwait(false);
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
}
