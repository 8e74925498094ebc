using LiteFs.Core.Metrics;

namespace LiteFs.Core;

/// <summary>Something that happened in write forwarding, as <c>/events</c> and <c>/metrics</c> report it.</summary>
public enum ForwardingEvent
{
    /// <summary>This primary granted a replica a database's HALT lock.</summary>
    HaltGranted,

    /// <summary>This primary's granted HALT lock was released by its holder.</summary>
    HaltReleased,

    /// <summary>This primary's granted HALT lock ended with its TTL.</summary>
    HaltExpired,

    /// <summary>This replica borrowed a database's HALT lock from the primary.</summary>
    HaltAcquired,

    /// <summary>This replica gave a borrowed HALT lock back.</summary>
    HaltGivenBack,

    /// <summary>This replica sent a transaction committed under a HALT lock, and the primary applied it.</summary>
    TransactionForwarded,

    /// <summary>This primary applied a transaction forwarded by a HALT lock's holder.</summary>
    ForwardedTransactionApplied,

    /// <summary>This primary imported a SQLite file as a database.</summary>
    Imported,
}

/// <summary>
/// Counts write-forwarding activity and tells subscribers (<c>/events</c>) of each one. Counters
/// are changed only with <see cref="Interlocked"/>; subscribers run on the thread that acted and
/// must not block.
/// </summary>
public sealed class WriteForwardingActivity : IMetricsSource
{
    private readonly long[] _counts = new long[Enum.GetValues<ForwardingEvent>().Length];

    /// <summary>Raised after each event, with the database's name and the lock ID (0 for an import).</summary>
    public event Action<ForwardingEvent, string, long>? Happened;

    /// <summary>How many times <paramref name="kind"/> happened since the node started.</summary>
    public long Count(ForwardingEvent kind) => Interlocked.Read(ref _counts[(int)kind]);

    /// <summary>Records one event.</summary>
    public void Record(ForwardingEvent kind, string database, long lockId)
    {
        Interlocked.Increment(ref _counts[(int)kind]);
        Happened?.Invoke(kind, database, lockId);
    }

    /// <inheritdoc />
    public IEnumerable<MetricFamily> Collect()
    {
        yield return Counter("litefs_halt_lock_grants_total", "HALT locks this primary granted to replicas.", ForwardingEvent.HaltGranted);
        yield return Counter("litefs_halt_lock_expirations_total", "HALT locks granted here that ended with their TTL.", ForwardingEvent.HaltExpired);
        yield return Counter("litefs_halt_lock_acquisitions_total", "HALT locks this replica borrowed from the primary.", ForwardingEvent.HaltAcquired);
        yield return Counter("litefs_forwarded_tx_total", "Transactions this replica forwarded to the primary under a HALT lock.", ForwardingEvent.TransactionForwarded);
        yield return Counter("litefs_forwarded_tx_applied_total", "Forwarded transactions this primary applied.", ForwardingEvent.ForwardedTransactionApplied);
        yield return Counter("litefs_import_total", "Databases this primary imported.", ForwardingEvent.Imported);
    }

    private MetricFamily Counter(string name, string help, ForwardingEvent kind) =>
        new(name, MetricFamily.Counter, help, [new MetricSample(Count(kind))]);
}
