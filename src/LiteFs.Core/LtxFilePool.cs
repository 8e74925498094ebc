using System.Collections.Concurrent;

namespace LiteFs.Core;

/// <summary>
/// Empty files created ahead of time in an LTX directory, so that a commit renames a ready file
/// instead of creating one: creating a file costs hundreds of microseconds on common file
/// systems, renaming a few tens. A background thread refills the pool at a low scheduling
/// priority, so that file creation uses idle time, not the cores serving SQLite. The files are named
/// <c>.pool.N.tmp</c>, which no reader of LTX directories takes for an LTX file; leftovers are
/// removed when a database is opened.
/// </summary>
internal sealed class LtxFilePool : IDisposable
{
    private const int Target = 32;
    private const string Prefix = ".pool.";

    private readonly string _dir;
    private readonly ConcurrentQueue<string> _ready = new();
    private readonly SemaphoreSlim _refill = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _worker;
    private long _next;

    public LtxFilePool(string dir)
    {
        _dir = dir;
        RemoveLeftovers(dir);
        _worker = new Thread(RefillLoop) { IsBackground = true, Name = "litefs-ltx-pool" };
        _worker.Start();
        Signal();
    }

    /// <summary>Takes a ready empty file; null when the pool is empty (create one directly then).</summary>
    public string? Take()
    {
        var taken = _ready.TryDequeue(out var path) ? path : null;
        if (_ready.Count < Target / 2)
        {
            Signal();
        }
        return taken;
    }

    /// <summary>Removes pool files a previous process left behind.</summary>
    public static void RemoveLeftovers(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }
        foreach (var path in Directory.EnumerateFiles(dir, Prefix + "*"))
        {
            File.Delete(path);
        }
    }

    private void Signal()
    {
        if (_refill.CurrentCount == 0)
        {
            try
            {
                _refill.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private void RefillLoop()
    {
        Posix.LowerThreadPriority(10);
        try
        {
            while (true)
            {
                _refill.Wait(_stop.Token);
                while (_ready.Count < Target && !_stop.IsCancellationRequested)
                {
                    var path = Path.Combine(_dir, $"{Prefix}{Interlocked.Increment(ref _next)}.tmp");
                    try
                    {
                        File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write).Dispose();
                    }
                    catch (IOException)
                    {
                        // Directory gone (database folder replaced) or disk full: commits create their own.
                        break;
                    }
                    _ready.Enqueue(path);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _worker.Join(TimeSpan.FromSeconds(5));
        while (_ready.TryDequeue(out var path))
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
        }
        _stop.Dispose();
        _refill.Dispose();
    }
}
