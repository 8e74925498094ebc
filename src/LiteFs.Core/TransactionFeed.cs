using System.Collections.Concurrent;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>
/// The store's news of transactions, committed or applied. A database queues each one while it
/// holds its monitor (a lock-free enqueue, nothing else) and calls <see cref="Deliver"/> once it
/// has released it: subscribers never run under a database's monitor, and see each database's
/// transactions in the order they happened. One thread delivers at a time; a thread that finds
/// another delivering leaves the queue to it, which re-checks the queue after it stops, so no
/// transaction is left undelivered.
/// </summary>
internal sealed class TransactionFeed
{
    /// <summary>Transactions not delivered yet; lock-free (enqueued under a database's monitor, dequeued by the deliverer).</summary>
    private readonly ConcurrentQueue<(Db Db, Pos Pos)> _queue = new();

    /// <summary>1 while a thread delivers (Interlocked).</summary>
    private int _delivering;

    /// <summary>Owns <see cref="_subscriptions"/>.</summary>
    private readonly Lock _subscribersLock = new();

    /// <summary>The live subscriptions; replaced, never changed in place, under <see cref="_subscribersLock"/> (read lock-free).</summary>
    private volatile ChangeSubscription[] _subscriptions = [];

    /// <summary>Raised for every transaction, outside any database's monitor, one at a time.</summary>
    public event Action<Db, Pos>? Transaction;

    /// <summary>Queues a transaction (called under the database's monitor).</summary>
    public void Enqueue(Db db, Pos pos) => _queue.Enqueue((db, pos));

    /// <summary>Delivers what is queued, unless another thread is doing so (called outside any database's monitor).</summary>
    public void Deliver()
    {
        while (!_queue.IsEmpty && Interlocked.CompareExchange(ref _delivering, 1, 0) == 0)
        {
            try
            {
                while (_queue.TryDequeue(out var item))
                {
                    foreach (var subscription in _subscriptions)
                    {
                        subscription.MarkChanged(item.Db.Name);
                    }
                    Transaction?.Invoke(item.Db, item.Pos);
                }
            }
            finally
            {
                Volatile.Write(ref _delivering, 0);
            }
            // Something queued after the last dequeue but before the flag was cleared is seen here.
        }
    }

    /// <summary>A new subscription to changed databases; dispose it to end it.</summary>
    public ChangeSubscription Subscribe(CancellationToken cancellationToken)
    {
        var subscription = new ChangeSubscription(this, cancellationToken);
        lock (_subscribersLock)
        {
            _subscriptions = [.. _subscriptions, subscription];
        }
        return subscription;
    }

    internal void Unsubscribe(ChangeSubscription subscription)
    {
        lock (_subscribersLock)
        {
            _subscriptions = [.. _subscriptions.Where(s => s != subscription)];
        }
    }
}

/// <summary>
/// The names of databases changed since the last <see cref="Wait"/>, as upstream's store
/// subscriber keeps them: a consumer (a replica's stream) wakes, reads the positions of what
/// changed itself, and sends what is new. A monitor, not a semaphore: a stream wakes once per
/// transaction file, and a semaphore's spinning before it sleeps cost more CPU than sending the
/// file.
/// </summary>
public sealed class ChangeSubscription : IDisposable
{
    private readonly TransactionFeed _feed;
    private readonly CancellationTokenRegistration _cancelled;
    private readonly CancellationToken _token;

    /// <summary>Owns <see cref="_changed"/>, <see cref="_spare"/> and <see cref="_signaled"/>.</summary>
    private readonly object _gate = new();
    private HashSet<string> _changed = new(StringComparer.Ordinal);
    private HashSet<string> _spare = new(StringComparer.Ordinal);
    private bool _signaled;

    internal ChangeSubscription(TransactionFeed feed, CancellationToken cancellationToken)
    {
        _feed = feed;
        _token = cancellationToken;
        _cancelled = cancellationToken.Register(static s => ((ChangeSubscription)s!).MarkChanged(null), this);
    }

    /// <summary>Wakes the consumer, with the name of a changed database if any.</summary>
    internal void MarkChanged(string? name)
    {
        lock (_gate)
        {
            if (name is not null)
            {
                _changed.Add(name);
            }
            _signaled = true;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for a change; returns the names of the databases
    /// that changed (possibly none), the caller's until the next call. Throws once the subscription's
    /// token is cancelled.
    /// </summary>
    public HashSet<string> Wait(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (!_signaled)
            {
                Monitor.Wait(_gate, timeout);
            }
            _token.ThrowIfCancellationRequested();
            _signaled = false;
            // Two sets in turn: the caller is done with the one it had when it calls again.
            var changed = _changed;
            _spare.Clear();
            (_changed, _spare) = (_spare, changed);
            return changed;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _feed.Unsubscribe(this);
        _cancelled.Dispose();
    }
}
