using LiteFs.Core.Sqlite;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// Rewrites the SHM header so that SQLite connections see an empty WAL and a changed
    /// database (the change counter moves), and reread every page from the database file.
    /// Called after every applied LTX file and every checkpoint the node makes.
    /// </summary>
    private void RewriteShmHeader()
    {
        AssertSync();
        var shm = RequireHandle(DbFileKind.Shm, create: true);
        var data = _shmBuffer ??= new byte[ShmLayout.RegionSize];
        // Bytes past the end of a short file read as zeros.
        data.AsSpan(RandomAccess.Read(shm, data, 0)).Clear();

        var wal = _wal;
        ShmLayout.WriteEmptyWalHeader(data, PageSize, PageCount, wal.S0, wal.S1, wal.Salt1, wal.Salt2);

        _rewritingShm = true;
        try
        {
            RandomAccess.Write(shm, data, 0);
            RandomAccess.SetLength(shm, ShmLayout.RegionSize);
        }
        finally
        {
            _rewritingShm = false;
        }
        _host.Invalidator.InvalidateData(Name, DbFileKind.Shm, 0, -1);
    }
}
