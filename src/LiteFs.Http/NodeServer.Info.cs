using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Threading.Channels;
using LiteFs.Core;
using LiteFs.Core.Metrics;
using LiteFs.Ltx;
using Microsoft.AspNetCore.Http;

namespace LiteFs.Http;

public sealed partial class NodeServer
{
    /// <summary>Events a slow <c>/events</c> reader may fall behind by before its response is ended (upstream's buffer).</summary>
    internal const int EventBufferSize = 1024;

    /// <summary>How often <c>/events</c> looks for a change of primary status or known primary.</summary>
    private static readonly TimeSpan PrimaryPollInterval = TimeSpan.FromSeconds(1);

    // Go's encoder keeps non-ASCII text as UTF-8; the relaxed encoder is the closest built-in one.
    private static readonly JsonWriterOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonWriterOptions IndentedJson = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = true,
        IndentSize = 2,
        NewLine = "\n",
    };

    /// <summary>
    /// <c>GET /info</c>: the node as JSON, two-space indented, then a newline; upstream's fields,
    /// then <c>proxyURL</c> when there is a proxy, and <c>healthy: false</c> with the reason while
    /// this replica's replication keeps failing.
    /// </summary>
    private Task InfoAsync(HttpContext context)
    {
        var body = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body, IndentedJson))
        {
            json.WriteStartObject();
            if (_store.ClusterId is { Length: > 0 } clusterId)
            {
                json.WriteString("clusterID", clusterId);
            }
            json.WriteBoolean("isPrimary", _store.IsPrimary);
            json.WriteBoolean("candidate", IsCandidate);
            json.WriteString("path", _store.DataDir);
            json.WriteStartObject("primary");
            json.WriteString("hostname", _store.IsPrimary ? _store.Lease.PrimaryHostname ?? "" : KnownPrimaryHostname);
            json.WriteEndObject();
            if (_options.ProxyUrl is { Length: > 0 } proxyUrl)
            {
                // Not in upstream's /info (extra fields are ignored there): where this node's HTTP
                // proxy is reached, so a replica's proxy can forward writes to the primary's.
                json.WriteString("proxyURL", proxyUrl);
            }
            if (_store.ReplicationFailure is { } failure)
            {
                // Also not in upstream's /info, and only while it applies: a replica whose
                // replication keeps failing says so, and why.
                json.WriteBoolean("healthy", false);
                json.WriteString("replicationError", failure);
            }
            json.WriteEndObject();
        }
        body.Write("\n"u8);
        var response = context.Response;
        // What Go's content sniffing made of upstream's body.
        response.Headers.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = body.WrittenCount;
        return response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted).AsTask();
    }

    /// <summary>
    /// <c>GET /events</c>: newline-delimited JSON, each line flushed: <c>init</c>, then <c>tx</c> for
    /// every transaction and <c>primaryChange</c> whenever the primary status or known primary
    /// changes. Ends when the client goes, the server stops, or the reader falls 1024 events behind.
    /// </summary>
    private async Task EventsAsync(HttpContext context)
    {
        var events = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(EventBufferSize)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        void Post(byte[] line)
        {
            if (!events.Writer.TryWrite(line) && events.Writer.TryComplete())
            {
                LogEventsOverflow();
            }
        }
        void OnTransaction(Db db, Pos pos) => Post(TxEvent(db, pos));
        void OnForwarding(ForwardingEvent kind, string db, long lockId) => Post(ForwardingEventLine(kind, db, lockId));

        var primary = (_store.IsPrimary, KnownPrimaryHostname);
        void PollPrimary()
        {
            var now = (_store.IsPrimary, KnownPrimaryHostname);
            lock (events)
            {
                if (now == primary)
                {
                    return;
                }
                primary = now;
            }
            Post(PrimaryEvent("primaryChange", now.IsPrimary, now.KnownPrimaryHostname));
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = "application/json";
        Post(PrimaryEvent("init", primary.IsPrimary, primary.KnownPrimaryHostname));
        _store.Transaction += OnTransaction;
        _store.Forwarding.Happened += OnForwarding;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _shutdown.Token);
        var timer = _store.Time.CreateTimer(_ => PollPrimary(), null, PrimaryPollInterval, PrimaryPollInterval);
        try
        {
            await response.StartAsync(stop.Token).ConfigureAwait(false);
            await foreach (var line in events.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                await response.Body.WriteAsync(line, stop.Token).ConfigureAwait(false);
                await response.Body.FlushAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client went away or the server is stopping.
        }
        finally
        {
            _store.Transaction -= OnTransaction;
            _store.Forwarding.Happened -= OnForwarding;
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static byte[] PrimaryEvent(string type, bool isPrimary, string hostname)
    {
        var body = new ArrayBufferWriter<byte>(96);
        using (var json = new Utf8JsonWriter(body, CompactJson))
        {
            json.WriteStartObject();
            json.WriteString("type", type);
            json.WriteStartObject("data");
            json.WriteBoolean("isPrimary", isPrimary);
            if (hostname.Length > 0)
            {
                json.WriteString("hostname", hostname);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        body.Write("\n"u8);
        return body.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A write-forwarding event (ours; upstream has none): <c>{"type":"halt","db":..,"data":{"event":"granted","lockID":..}}</c>
    /// for the HALT lock's changes and forwarded transactions, <c>{"type":"import","db":..}</c> for an import.
    /// </summary>
    private static byte[] ForwardingEventLine(ForwardingEvent kind, string db, long lockId)
    {
        var body = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(body, CompactJson))
        {
            json.WriteStartObject();
            json.WriteString("type", kind == ForwardingEvent.Imported ? "import" : "halt");
            json.WriteString("db", db);
            if (kind != ForwardingEvent.Imported)
            {
                json.WriteStartObject("data");
                json.WriteString("event", kind switch
                {
                    ForwardingEvent.HaltGranted => "granted",
                    ForwardingEvent.HaltReleased => "released",
                    ForwardingEvent.HaltExpired => "expired",
                    ForwardingEvent.HaltAcquired => "acquired",
                    ForwardingEvent.HaltGivenBack => "givenBack",
                    ForwardingEvent.TransactionForwarded => "txForwarded",
                    _ => "txApplied",
                });
                json.WriteNumber("lockID", lockId);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        body.Write("\n"u8);
        return body.WrittenSpan.ToArray();
    }

    private static byte[] TxEvent(Db db, Pos pos)
    {
        var body = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(body, CompactJson))
        {
            json.WriteStartObject();
            json.WriteString("type", "tx");
            json.WriteString("db", db.Name);
            json.WriteStartObject("data");
            json.WriteString("txID", pos.TxId.ToString());
            json.WriteString("postApplyChecksum", pos.PostApplyChecksum.ToString());
            json.WriteNumber("pageSize", db.PageSize);
            json.WriteNumber("commit", db.PageCount);
            json.WriteString("timestamp", FormatTimestamp(db.Timestamp));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        body.Write("\n"u8);
        return body.WrittenSpan.ToArray();
    }

    /// <summary>RFC 3339 in UTC with up to millisecond precision, trailing zeros trimmed (Go's <c>.999Z07:00</c>).</summary>
    internal static string FormatTimestamp(long unixMilliseconds)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).UtcDateTime;
        var text = time.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        var ms = time.Millisecond;
        return ms == 0 ? text + "Z" : text + "." + ms.ToString("D3", CultureInfo.InvariantCulture).TrimEnd('0') + "Z";
    }

    /// <summary>
    /// <c>GET /metrics</c>: the LiteFS series, then those of <see cref="NodeServerOptions.Metrics"/>
    /// (the proxy's), in Prometheus text format 0.0.4, families sorted by name as Go's registry
    /// writes them. No node headers, as upstream.
    /// </summary>
    private Task MetricsAsync(HttpContext context)
    {
        var dbs = _store.Databases;
        var ltx = dbs.Select(d => (d.Name, Files: LtxFiles(d))).ToList();
        List<MetricFamily> families =
        [
            Gauge("litefs_db_count", "Number of managed databases.", dbs.Count),
            PerDb("litefs_db_ltx_bytes", "Number of bytes used by LTX files on disk.", ltx.Select(l => (l.Name, (double)l.Files.Bytes))),
            PerDb("litefs_db_ltx_count", "Number of LTX files on disk.", ltx.Select(l => (l.Name, (double)l.Files.Count))),
            PerDb("litefs_db_disk_full", "Whether the database's writes are refused because the data directory is full (its last transaction could not be recorded).", dbs.Select(d => (d.Name, d.DiskFullReason is null ? 0.0 : 1.0))),
            PerDb("litefs_db_disk_full_errors_total", "Attempts to record a transaction that failed because the data directory is full.", dbs.Select(d => (d.Name, (double)d.DiskFullErrors))) with { Type = MetricFamily.Counter },
            PerDb("litefs_db_txid", "Current transaction ID.", dbs.Select(d => (d.Name, (double)d.Pos.TxId.Value))),
            Gauge("litefs_healthy", "Whether the node replicates normally (0 on a replica whose replication keeps failing).", _store.IsHealthy ? 1 : 0),
            Gauge("litefs_http_stream_count", "Number of streams currently connected.", StreamCount),
            Gauge("litefs_is_primary", "Primary status of the node.", _store.IsPrimary ? 1 : 0),
            Gauge("litefs_lag_seconds", "Lag behind the primary node, in seconds", _store.IsReady ? _store.Lag.TotalSeconds : 0),
            Gauge("litefs_subscriber_count", "Number of connected subscribers", _store.SubscriberCount),
        ];
        families.AddRange(_store.Forwarding.Collect());
        foreach (var source in _options.Metrics)
        {
            families.AddRange(source.Collect());
        }
        var text = new StringBuilder(2048);
        foreach (var family in families.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            Render(text, family);
        }
        var body = Encoding.UTF8.GetBytes(text.ToString());
        var response = context.Response;
        response.Headers.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    private static MetricFamily Gauge(string name, string help, double value) =>
        new(name, MetricFamily.Gauge, help, [new MetricSample(value)]);

    private static MetricFamily PerDb(string name, string help, IEnumerable<(string Db, double Value)> series) =>
        new(name, MetricFamily.Gauge, help, [.. series.OrderBy(s => s.Db, StringComparer.Ordinal).Select(s => new MetricSample("db", s.Db, s.Value))]);

    private static void Render(StringBuilder text, MetricFamily family)
    {
        if (family.Samples.Count == 0)
        {
            return; // Go's registry leaves out a vector with no series
        }
        text.Append("# HELP ").Append(family.Name).Append(' ').Append(family.Help).Append('\n');
        text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
        foreach (var sample in family.Samples)
        {
            text.Append(family.Name);
            if (sample.Labels.Count > 0)
            {
                text.Append('{');
                for (var i = 0; i < sample.Labels.Count; i++)
                {
                    text.Append(i == 0 ? "" : ",").Append(sample.Labels[i].Key).Append("=\"").Append(PrometheusText.EscapeLabel(sample.Labels[i].Value)).Append('"');
                }
                text.Append('}');
            }
            text.Append(' ').Append(PrometheusText.FormatValue(sample.Value)).Append('\n');
        }
    }

    private static (int Count, long Bytes) LtxFiles(Db db)
    {
        var count = 0;
        long bytes = 0;
        try
        {
            foreach (var file in new DirectoryInfo(db.LtxDir).EnumerateFiles("*.ltx"))
            {
                count++;
                bytes += file.Length;
            }
        }
        catch (IOException)
        {
        }
        return (count, bytes);
    }
}
