using LiteFs.Core.Metrics;

namespace LiteFs.Proxy;

/// <summary>
/// The proxy's counters for the node's <c>/metrics</c>. Each field is updated with
/// <see cref="Interlocked"/> by request threads and read the same way by a scrape.
/// </summary>
public sealed class ProxyMetrics : IMetricsSource
{
    private long _read;
    private long _write;
    private long _forwarded;
    private long _passthrough;
    private long _replayed;
    private long _health;
    private long _txIdWaits;
    private long _txIdWaitTicks;
    private long _txIdTimeouts;
    private long _upstreamErrors;
    private long _forwardErrors;
    private long _noPrimary;

    internal void CountRoute(Route route)
    {
        switch (route)
        {
            case Route.Read: Interlocked.Increment(ref _read); break;
            case Route.Write: Interlocked.Increment(ref _write); break;
            case Route.Passthrough: Interlocked.Increment(ref _passthrough); break;
            case Route.Health: Interlocked.Increment(ref _health); break;
        }
    }

    internal void CountForwarded() => Interlocked.Increment(ref _forwarded);

    internal void CountReplayed() => Interlocked.Increment(ref _replayed);

    internal void CountTxIdWait(TimeSpan waited, bool timedOut)
    {
        Interlocked.Increment(ref _txIdWaits);
        Interlocked.Add(ref _txIdWaitTicks, waited.Ticks);
        if (timedOut)
        {
            Interlocked.Increment(ref _txIdTimeouts);
        }
    }

    internal void CountUpstreamError() => Interlocked.Increment(ref _upstreamErrors);

    internal void CountForwardError() => Interlocked.Increment(ref _forwardErrors);

    internal void CountNoPrimary() => Interlocked.Increment(ref _noPrimary);

    /// <summary>Requests forwarded to the primary's proxy so far.</summary>
    public long Forwarded => Interlocked.Read(ref _forwarded);

    /// <summary>Reads that waited for a TXID so far.</summary>
    public long TxIdWaits => Interlocked.Read(ref _txIdWaits);

    /// <inheritdoc />
    public IEnumerable<MetricFamily> Collect()
    {
        double Read(ref long field) => Interlocked.Read(ref field);
        return
        [
            new MetricFamily("litefs_proxy_requests_total", MetricFamily.Counter, "Requests received by the proxy, by route.",
            [
                new MetricSample("route", "forwarded", Read(ref _forwarded)),
                new MetricSample("route", "health", Read(ref _health)),
                new MetricSample("route", "passthrough", Read(ref _passthrough)),
                new MetricSample("route", "read", Read(ref _read)),
                new MetricSample("route", "replayed", Read(ref _replayed)),
                new MetricSample("route", "write", Read(ref _write)),
            ]),
            new MetricFamily("litefs_proxy_txid_wait_count", MetricFamily.Counter, "Reads that waited for this node to reach the client's TXID.", [new MetricSample(Read(ref _txIdWaits))]),
            new MetricFamily("litefs_proxy_txid_wait_seconds", MetricFamily.Counter, "Total time reads waited for the client's TXID, in seconds.", [new MetricSample(TimeSpan.FromTicks(Interlocked.Read(ref _txIdWaitTicks)).TotalSeconds)]),
            new MetricFamily("litefs_proxy_txid_timeout_count", MetricFamily.Counter, "Reads answered 504 after waiting for the client's TXID.", [new MetricSample(Read(ref _txIdTimeouts))]),
            new MetricFamily("litefs_proxy_error_count", MetricFamily.Counter, "Requests that failed in the proxy, by kind.",
            [
                new MetricSample("kind", "forward", Read(ref _forwardErrors)),
                new MetricSample("kind", "no_primary", Read(ref _noPrimary)),
                new MetricSample("kind", "upstream", Read(ref _upstreamErrors)),
            ]),
        ];
    }
}
