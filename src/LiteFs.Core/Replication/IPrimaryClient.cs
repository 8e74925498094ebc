using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>How a replica reaches its primary's <c>/stream</c> (implemented over HTTP/2 by LiteFs.Http).</summary>
public interface IPrimaryClient
{
    /// <summary>
    /// Opens the replication stream: POST <c>/stream</c> with the position map, returning once the
    /// response headers arrived with status 200. Any other status throws.
    /// </summary>
    Task<PrimaryStream> OpenStreamAsync(string primaryUrl, ulong nodeId, IReadOnlyDictionary<string, Pos> positions, IReadOnlyList<string> filter, CancellationToken cancellationToken);
}

/// <summary>An open replication stream: the primary's cluster ID header and the frame body. Disposing aborts it.</summary>
public sealed class PrimaryStream(string? clusterId, Stream body, IDisposable? owner = null) : IDisposable
{
    /// <summary>The <c>Litefs-Cluster-Id</c> response header, if present.</summary>
    public string? ClusterId { get; } = clusterId;

    /// <summary>The response body: replication frames.</summary>
    public Stream Body { get; } = body;

    private int _disposed;

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Body.Dispose();
            owner?.Dispose();
        }
    }
}
