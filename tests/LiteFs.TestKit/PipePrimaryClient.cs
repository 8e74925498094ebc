using System.IO.Pipelines;
using LiteFs.Core;
using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.TestKit;

/// <summary>
/// A replica's link to a primary store in the same process: each stream request runs the real
/// <see cref="PrimaryStreamer"/> on its own thread, writing into an in-memory pipe the replica
/// reads. No HTTP: for testing the replication logic and the mounts on their own.
/// </summary>
public sealed class PipePrimaryClient(Store primary) : IPrimaryClient
{
    private int _connections;

    /// <summary>Stream requests made so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The positions sent with each request.</summary>
    public List<Dictionary<string, Pos>> Requests { get; } = [];

    /// <inheritdoc />
    public Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _connections);
        lock (Requests)
        {
            Requests.Add(new Dictionary<string, Pos>(positions));
        }
        var pipe = new Pipe();
        var cts = new CancellationTokenSource();
        var writer = pipe.Writer.AsStream();
        var thread = new Thread(() =>
        {
            try
            {
                new PrimaryStreamer(primary, TimeSpan.Zero).Run(nodeId, positions, filter.Count > 0 ? filter.ToHashSet() : null, writer, cts.Token);
            }
            finally
            {
                pipe.Writer.Complete();
            }
        })
        { IsBackground = true, Name = "pipe primary" };
        thread.Start();
        return Task.FromResult(new PrimaryStream(primary.ClusterId, pipe.Reader.AsStream(), new Stop(cts, thread)));
    }

    private sealed class Stop(CancellationTokenSource cts, Thread thread) : IDisposable
    {
        public void Dispose()
        {
            cts.Cancel();
            thread.Join(TimeSpan.FromSeconds(10));
            cts.Dispose();
        }
    }
}
