using System.Diagnostics;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>
/// Stores one database's LTX files and keeps account of their durability: encodes a file into a
/// reused buffer, writes it in one call to a file made ahead of time and renames it into place
/// (the rename is the commit point), and knows how many of the files written are known durable.
/// When SQLite asked for durability since the last file (it synced one of its files), the file
/// and the directory are synced before the file counts as stored; otherwise the files are synced
/// together at SQLite's next sync request, which is all SQLite itself promises at that setting (a
/// killed process loses nothing that reached the page cache).
/// </summary>
/// <remarks>
/// Owned by its database's monitor: every member is called with it held (checked in debug
/// builds), except <see cref="SyncFileSystem"/>, which is called without it so that recording
/// goes on while the disk syncs.
/// </remarks>
internal sealed class LtxWriter(string name, string ltxDir, object monitor) : IDisposable
{
    /// <summary>Where the next file is encoded: memory while small, a file beside its final place past 8 MiB.</summary>
    private readonly SpillBuffer _buffer = new(Path.Combine(ltxDir, SpillBuffer.SpillName));
    private LtxFilePool? _pool;

    // Files written so far, and how many of the first ones are known durable. Counts, not a
    // pending number: several syncs may overlap (the committer's background sync, a
    // checkpoint's, a commit's), and each one only vouches for the files written before it began.
    private long _written;
    private long _syncedThrough;

    /// <summary>SQLite synced one of the database's files since the last file was stored.</summary>
    private bool _syncRequested;

    /// <summary>Files written that are not known to be durable.</summary>
    public long Unsynced
    {
        get
        {
            AssertOwned();
            return _written - _syncedThrough;
        }
    }

    /// <summary>Files written so far (for a sync begun now: the files it will vouch for).</summary>
    public long Written
    {
        get
        {
            AssertOwned();
            return _written;
        }
    }

    /// <summary>Empty files made ahead of time in the LTX directory, for this writer and for received files.</summary>
    public LtxFilePool Pool
    {
        get
        {
            AssertOwned();
            return _pool ??= new LtxFilePool(ltxDir);
        }
    }

    /// <summary>SQLite asked for one of its files to be durable: the next file is synced, and those before it.</summary>
    public void RequestSync()
    {
        AssertOwned();
        _syncRequested = true;
    }

    /// <summary>Starts encoding the next file into the buffer.</summary>
    public LtxEncoder Begin(in LtxHeader header)
    {
        AssertOwned();
        _buffer.Reset();
        var encoder = new LtxEncoder(_buffer);
        encoder.WriteHeader(header);
        return encoder;
    }

    /// <summary>
    /// Finishes the file and renames it into place: from then on it is part of the history,
    /// whatever happens next. <see cref="CompleteDurability"/> follows.
    /// </summary>
    /// <param name="encoder">The encoder <see cref="Begin"/> returned; disposed here.</param>
    /// <param name="postApply">The database's checksum after the file.</param>
    /// <param name="current">The database's position before the file (for the message when the file exists).</param>
    /// <param name="beforeStore">Given the whole file before it is stored: a transaction under a HALT lock held from the primary is forwarded there first; if it throws, nothing is stored.</param>
    /// <returns>The stored file's header.</returns>
    public LtxHeader Store(LtxEncoder encoder, Checksum postApply, Pos current, Action<Stream>? beforeStore = null)
    {
        AssertOwned();
        var header = encoder.Header;
        encoder.Finish(postApply);
        encoder.Dispose();

        var final = Path.Combine(ltxDir, LtxFileName.Format(header.MinTxId, header.MaxTxId));
        if (File.Exists(final))
        {
            // A TXID is used once: never replace a file already in the history.
            throw new LiteFsException($"{name}: {Path.GetFileName(final)} already exists; the position {current} is behind the LTX files");
        }
        if (_buffer.SpilledPath is { } spilled)
        {
            // A large transaction: encoded to disk as it went; written out and renamed.
            _buffer.FinishSpill(durable: _syncRequested);
            if (beforeStore is not null)
            {
                using var file = new FileStream(spilled, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                beforeStore(file);
            }
            File.Move(spilled, final, overwrite: true);
            _buffer.Reset();
            return header;
        }
        var bytes = _buffer.InMemory;
        if (beforeStore is not null)
        {
            using var view = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
            beforeStore(view);
        }
        var temp = Pool.Take() ?? final + ".tmp";
        try
        {
            // Create truncates: a file of that name left by a killed process may be longer than this one.
            using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(file, bytes.AsSpan(), 0);
                if (_syncRequested)
                {
                    RandomAccess.FlushToDisk(file);
                }
            }
            File.Move(temp, final, overwrite: true);
        }
        catch (IOException)
        {
            // A file not written whole (the disk is full) is never part of the history, and its
            // space is what a retry needs.
            TryDelete(temp);
            throw;
        }
        return header;
    }

    /// <summary>
    /// Gives up the file being encoded or stored (it could not be written): the spill file, if
    /// any, is removed. Returns its size so far, the space a retry needs at least.
    /// </summary>
    public long Abandon()
    {
        AssertOwned();
        var spilled = _buffer.SpilledPath;
        // The spill file may be closed already (the failure was in storing it).
        var size = spilled is null ? _buffer.Length : new FileInfo(spilled) is { Exists: true } info ? info.Length : 0;
        _buffer.Reset();
        if (spilled is not null)
        {
            TryDelete(spilled);
        }
        return size;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// After <see cref="Store"/>: counts the file, and when SQLite asked for durability makes it
    /// and every earlier file durable (the file was synced before its rename; the others with one
    /// syncfs, and the directory entry with an fsync of the directory).
    /// </summary>
    public void CompleteDurability()
    {
        AssertOwned();
        if (_syncRequested)
        {
            SyncPending();
            Posix.FsyncDirectory(ltxDir);
            _syncRequested = false;
            MarkSyncedThrough(++_written);
        }
        else
        {
            _written++;
        }
        _buffer.Reset();
    }

    /// <summary>
    /// Makes the files written without a sync durable, with their directory entries: one syncfs
    /// for all of them, however many transactions went by since SQLite last synced.
    /// </summary>
    public void SyncPending()
    {
        AssertOwned();
        if (Unsynced == 0)
        {
            return;
        }
        var written = _written;
        Posix.SyncFileSystem(ltxDir);
        MarkSyncedThrough(written);
    }

    /// <summary>Syncs the LTX directory's file system; called without the monitor (then <see cref="MarkSyncedThrough"/> with it).</summary>
    public void SyncFileSystem() => Posix.SyncFileSystem(ltxDir);

    /// <summary>Records that a sync which began once <paramref name="written"/> files were written has finished.</summary>
    public void MarkSyncedThrough(long written)
    {
        AssertOwned();
        _syncedThrough = Math.Max(_syncedThrough, written);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _pool?.Dispose();
        _pool = null;
        _buffer.Dispose();
    }

    [Conditional("DEBUG")]
    private void AssertOwned() => Debug.Assert(Monitor.IsEntered(monitor), $"{name}: the LTX writer is used without the database's monitor");
}
