namespace LiteFs.Core;

/// <summary>
/// The thread that records committed WAL transactions as LTX files, off SQLite's path: a
/// database whose WAL write lock was released with new frames is queued here, and the thread
/// records everything committed meanwhile in one pass (<see cref="WalRecorder.RunCommitter"/>), at most one
/// pass per database every <see cref="WalRecorder.MinFileInterval"/>. A thread of
/// its own rather than the thread pool: it sleeps in the kernel between passes instead of
/// spinning for work on the cores SQLite and the file system need.
/// </summary>
internal sealed class Committer : IDisposable
{
    /// <summary>Databases waiting for a pass, in the order they were queued.</summary>
    private readonly List<WalRecorder> _queue = [];
    private readonly Thread _thread;
    private bool _stopping;
    private int _paused;

    public Committer()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "litefs-committer" };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="db"/> for a pass (the caller makes sure it is queued once at a time).</summary>
    public void Schedule(WalRecorder db)
    {
        lock (_queue)
        {
            _queue.Add(db);
            Monitor.Pulse(_queue);
        }
    }

    private void Run()
    {
        while (true)
        {
            WalRecorder? db = null;
            var wait = TimeSpan.Zero;
            lock (_queue)
            {
                while (true)
                {
                    while ((_queue.Count == 0 || _paused > 0) && !_stopping)
                    {
                        Monitor.Wait(_queue);
                    }
                    if (_queue.Count == 0)
                    {
                        return;
                    }
                    // The first database not held back by its pace: a database that wrote a file
                    // a moment ago does not delay the others.
                    wait = TimeSpan.MaxValue;
                    for (var i = 0; i < _queue.Count && db is null; i++)
                    {
                        var due = _stopping ? TimeSpan.Zero : _queue[i].CommitterWait();
                        if (due <= TimeSpan.Zero)
                        {
                            db = _queue[i];
                            _queue.RemoveAt(i);
                        }
                        wait = due < wait ? due : wait;
                    }
                    if (db is not null || wait < TimeSpan.FromMilliseconds(1))
                    {
                        break;
                    }
                    // Every queued database is paced: what commits meanwhile joins its next
                    // file. Whole milliseconds are spent here, where a database queued meanwhile
                    // wakes the thread.
                    Monitor.Wait(_queue, (int)wait.TotalMilliseconds);
                }
            }
            if (db is null)
            {
                // The sub-millisecond rest of a pace, precisely: a monitor wait rounds its
                // timeout down to whole milliseconds, and one of 0 ms made this loop spin (a
                // quarter of a core at 1,000 tx/s).
                Posix.SleepPrecisely(wait);
                continue;
            }
            db.RunCommitter();
        }
    }

    /// <summary>
    /// Holds queued passes until the result is disposed (tests use it to make transactions
    /// accumulate as they do when SQLite outpaces the node). Anything that settles a database
    /// itself, such as reading its position, still records what is pending.
    /// </summary>
    public IDisposable Pause()
    {
        lock (_queue)
        {
            _paused++;
        }
        return new Resumer(this);
    }

    private sealed class Resumer(Committer committer) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                lock (committer._queue)
                {
                    committer._paused--;
                    Monitor.Pulse(committer._queue);
                }
            }
        }
    }

    /// <summary>Finishes the passes queued so far, then stops the thread.</summary>
    public void Dispose()
    {
        lock (_queue)
        {
            _stopping = true;
            Monitor.Pulse(_queue);
        }
        _thread.Join();
    }
}
