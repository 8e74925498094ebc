using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// The HALT lock was just granted (the node holds every SQLite lock of this database for the
    /// lock's holder): a journal left now is hot (its writer is gone) and is rolled back, and the
    /// WAL is checkpointed into the database file, so that the transactions the holder forwards
    /// apply to the database file alone.
    /// </summary>
    public void PrepareForHalt()
    {
        // The checkpoint rewrites the SHM header: SQLite's stale copy must not come back over it
        // (SQLite would append to the emptied WAL behind it).
        SyncShmWithKernel();
        using (EnterSync())
        {
            RollbackJournal();
            CheckpointWal();
        }
        _host.Invalidator.Flush();
    }

    /// <summary>
    /// The checksum the database would have after a file's pages were written and it was
    /// truncated (or extended) to <paramref name="commit"/> pages, without writing anything: the
    /// pages' checksums are laid over the current ones for the computation and taken off again.
    /// Only while the WAL holds no committed frame (after <see cref="PrepareForHalt"/>).
    /// </summary>
    internal Checksum PredictChecksum(IReadOnlyList<(uint Pgno, Checksum Checksum)> pages, uint commit)
    {
        AssertSync();
        if (_checksums.HasWal)
        {
            throw new InvalidOperationException($"{Name}: the WAL must be checkpointed before a forwarded transaction is checked");
        }
        try
        {
            foreach (var (pgno, checksum) in pages)
            {
                _checksums.SetWal(pgno, checksum);
            }
            return _checksums.Compute(commit, PageSize);
        }
        finally
        {
            _checksums.ClearWal();
        }
    }

    /// <summary>
    /// Applies a transaction forwarded by the holder of this database's HALT lock (<c>POST /tx</c>):
    /// see <see cref="ReplicaApplier.ApplyForwarded"/>. The caller checked that the lock is held by the
    /// sender under the lock ID it gave; the lock holds SQLite's locks meanwhile.
    /// </summary>
    public LtxHeader ApplyForwarded(byte[] headerBytes, Stream body, CancellationToken cancellationToken) =>
        _applier.ApplyForwarded(headerBytes, body, cancellationToken);
}
