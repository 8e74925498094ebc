using LiteFs.Core.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core;

/// <summary>
/// Rewrites a database's SHM header so that SQLite connections see an empty WAL and a changed
/// database (the change counter moves), and reread every page from the database file: after
/// every applied LTX file and every checkpoint the node makes. While it writes, SQLite's own
/// writes to the SHM file (a connection refreshing its mapping) are dropped.
/// </summary>
/// <remarks>
/// Threading: <see cref="Rewrite"/> and <see cref="HoldOffReaders"/> run under the database's monitor, the only writer of both
/// fields; <see cref="IsRewriting"/> is read by any thread writing the SHM file through the mount.
/// </remarks>
internal sealed class ShmHeaderWriter
{
    /// <summary>Set while the header is rewritten. Written under the database's monitor; read anywhere.</summary>
    private volatile bool _rewriting;

    /// <summary>The SHM region rewritten each time, kept between rewrites. The database's monitor.</summary>
    private byte[]? _buffer;

    /// <summary>Whether a rewrite is under way: SQLite's SHM writes meanwhile are dropped.</summary>
    public bool IsRewriting => _rewriting;

    /// <summary>
    /// Makes the header's two copies differ (the second copy's "initialised" byte cleared), as
    /// while a writer updates it: a SQLite connection starting a read transaction then tries to
    /// recover the index, which needs the WAL write lock, and waits (SQLite's busy handler) while
    /// the node holds it. A read transaction already under way is not disturbed. The next
    /// <see cref="Rewrite"/> makes the header whole again; so does SQLite's recovery.
    /// </summary>
    public void HoldOffReaders(SafeFileHandle shm)
    {
        Span<byte> zero = [0];
        _rewriting = true;
        try
        {
            if (RandomAccess.GetLength(shm) > ShmLayout.SecondCopyIsInitOffset)
            {
                RandomAccess.Write(shm, zero, ShmLayout.SecondCopyIsInitOffset);
            }
        }
        finally
        {
            _rewriting = false;
        }
    }

    /// <summary>Rewrites the header of <paramref name="shm"/> for a database of <paramref name="pageCount"/> pages and an empty WAL.</summary>
    public void Rewrite(SafeFileHandle shm, int pageSize, uint pageCount, WalCursor wal)
    {
        var data = _buffer ??= new byte[ShmLayout.RegionSize];
        // Bytes past the end of a short file read as zeros.
        data.AsSpan(RandomAccess.Read(shm, data, 0)).Clear();
        ShmLayout.WriteEmptyWalHeader(data, pageSize, pageCount, wal.S0, wal.S1, wal.Salt1, wal.Salt2);

        _rewriting = true;
        try
        {
            RandomAccess.Write(shm, data, 0);
            // Extended to a whole region when shorter, never shortened: a connection may have a
            // later region mapped (a WAL of more than 4062 frames), and a mapping past the end of
            // the file faults (SIGBUS) in that process. An empty WAL makes the other regions'
            // hash tables unused, as after SQLite's own restart of the WAL.
            if (RandomAccess.GetLength(shm) < ShmLayout.RegionSize)
            {
                RandomAccess.SetLength(shm, ShmLayout.RegionSize);
            }
        }
        finally
        {
            _rewriting = false;
        }
    }
}
