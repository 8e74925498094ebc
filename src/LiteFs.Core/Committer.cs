namespace LiteFs.Core;

/// <summary>
/// The thread that records committed WAL transactions as LTX files, off SQLite's path: a
/// database whose WAL write lock was released with new frames is queued here, and the thread
/// records everything committed meanwhile in one pass (<see cref="Db.RunCommitter"/>), at most one
/// pass per database every <see cref="Db.MinFileInterval"/>. A thread of
/// its own rather than the thread pool: it sleeps in the kernel between passes instead of
/// spinning for work on the cores SQLite and the file system need.
/// </summary>
internal sealed class Committer : IDisposable
{
    private readonly Queue<Db> _queue = new();
    private readonly Thread _thread;
    private bool _stopping;
    private int _paused;

    public Committer()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "litefs-committer" };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="db"/> for a pass (the caller makes sure it is queued once at a time).</summary>
    public void Schedule(Db db)
    {
        lock (_queue)
        {
            _queue.Enqueue(db);
            Monitor.Pulse(_queue);
        }
    }

    private void Run()
    {
        while (true)
        {
            Db db;
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
                    var wait = _stopping ? TimeSpan.Zero : _queue.Peek().CommitterWait();
                    if (wait <= TimeSpan.Zero)
                    {
                        db = _queue.Dequeue();
                        break;
                    }
                    // Paced: the database wrote a file moments ago; what commits meanwhile joins the next one.
                    Monitor.Wait(_queue, wait);
                }
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
