using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Ltx;

/// <summary>
/// Where a snapshot's pages come from: a database file, or (on a live node) a database file with
/// newer versions of some pages elsewhere, such as committed WAL frames.
/// </summary>
public interface ISnapshotPageSource
{
    /// <summary>
    /// Fills <paramref name="destination"/>, a whole number of pages, with the pages from
    /// <paramref name="firstPgno"/> on. Pages that were never written read as zeros.
    /// </summary>
    void ReadPages(uint firstPgno, Span<byte> destination);
}

/// <summary>Writes snapshot LTX files (MinTXID 1: every page of a database).</summary>
public static class LtxSnapshot
{
    /// <summary>Pages are read from the source in runs of up to this many bytes.</summary>
    private const int RunSize = 1 << 20;

    /// <summary>
    /// Encodes the database in <paramref name="db"/> as a snapshot at <paramref name="txid"/>.
    /// With <paramref name="expected"/>, the pages' checksum must equal it (the database must be
    /// at the position the snapshot claims), otherwise nothing valid is finished and
    /// <see cref="InvalidDataException"/> is thrown.
    /// </summary>
    public static LtxTrailer Write(Stream db, Stream output, TxId txid, LtxSnapshotOptions options, Checksum? expected = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(options);
        if (db.Length == 0)
        {
            throw new InvalidDataException($"{options.Name} is empty: there is no page to snapshot (a snapshot needs a page size)");
        }
        var pageSize = SqliteDatabase.ReadPageSize(db, options.Name);
        if (db.Length % pageSize != 0)
        {
            throw new InvalidDataException($"{options.Name} is {db.Length} bytes, not a whole number of {pageSize}-byte pages");
        }
        return Write(new StreamPages(db, pageSize), pageSize, (uint)(db.Length / pageSize), output, txid, options, expected);
    }

    /// <summary>
    /// Encodes pages 1 to <paramref name="commit"/> of <paramref name="pages"/> (the lock page
    /// left out) as a snapshot at <paramref name="txid"/>, reading them in runs. With
    /// <paramref name="expected"/>, the pages' checksum must equal it, otherwise nothing valid is
    /// finished and <see cref="InvalidDataException"/> is thrown. Cancellation is checked
    /// between runs.
    /// </summary>
    public static LtxTrailer Write(ISnapshotPageSource pages, int pageSize, uint commit, Stream output, TxId txid, LtxSnapshotOptions options,
        Checksum? expected = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(options);
        using var encoder = new LtxEncoder(output);
        encoder.WriteHeader(new LtxHeader
        {
            Flags = options.Compress ? LtxLayout.FlagCompressLz4 : 0,
            PageSize = pageSize,
            Commit = commit,
            MinTxId = new TxId(1),
            MaxTxId = txid,
            Timestamp = options.Timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            NodeId = options.NodeId,
        });
        var lockPgno = LtxLayout.LockPageNumber(pageSize);
        var runPages = Math.Max(1, RunSize / pageSize);
        var buffer = ArrayPool<byte>.Shared.Rent(runPages * pageSize);
        try
        {
            for (uint pgno = 1; pgno <= commit;)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var count = (int)Math.Min((uint)runPages, commit - pgno + 1);
                var run = buffer.AsSpan(0, count * pageSize);
                pages.ReadPages(pgno, run);
                for (var i = 0; i < count; i++, pgno++)
                {
                    if (pgno != lockPgno)
                    {
                        encoder.WritePage(pgno, run.Slice(i * pageSize, pageSize));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        var checksum = encoder.SnapshotChecksum;
        if (expected is { } want && want != checksum)
        {
            throw new InvalidDataException($"snapshot checksum mismatch at tx {txid}: {options.Name} has checksum {checksum}, its position says {want}");
        }
        return encoder.Finish(checksum);
    }

    /// <summary>
    /// Decodes the snapshot in <paramref name="ltx"/> into <paramref name="db"/>, an empty file,
    /// in one pass: each page is checked as it is read (its number, the LZ4 frame) and written in
    /// runs, its page checksum handed to <paramref name="onPage"/>. Only at the end, when the file
    /// has the snapshot's size, have the checksums covering everything (LZ4 content, file,
    /// post-apply) verified, and nothing may follow the trailer in the stream. On any error
    /// (<see cref="LtxFormatException"/> for bad input) the file holds part of the pages and is
    /// the caller's to discard.
    /// </summary>
    public static (LtxHeader Header, LtxTrailer Trailer) Restore(Stream ltx, SafeFileHandle db, Action<uint, Checksum>? onPage = null)
    {
        ArgumentNullException.ThrowIfNull(ltx);
        ArgumentNullException.ThrowIfNull(db);
        using var decoder = new LtxDecoder(ltx);
        var header = decoder.ReadHeader();
        if (!header.IsSnapshot)
        {
            throw new LtxFormatException("header.MinTXID", LtxLayout.MinTxId, $"not a snapshot: the file holds TXIDs {header.MinTxId}-{header.MaxTxId}, a snapshot starts at 1");
        }
        var pageSize = header.PageSize;
        var runPages = Math.Max(1, RunSize / pageSize);
        using (var runs = new OverlappedFileWriter(db, runPages * pageSize))
        {
            uint first = 0;
            var count = 0;
            while (decoder.ReadPage(out var page, runs.Buffer.AsSpan(count * pageSize, pageSize), out var checksum))
            {
                onPage?.Invoke(page.Pgno, checksum);
                if (count > 0 && page.Pgno != first + (uint)count)
                {
                    // The gap of the lock page: the run so far is written, this page starts the next.
                    runs.Buffer.AsSpan(count * pageSize, pageSize).CopyTo(runs.Next);
                    runs.Write(count * pageSize, (long)(first - 1) * pageSize);
                    count = 0;
                }
                if (count == 0)
                {
                    first = page.Pgno;
                }
                if (++count == runPages)
                {
                    runs.Write(count * pageSize, (long)(first - 1) * pageSize);
                    count = 0;
                }
            }
            if (count > 0)
            {
                runs.Write(count * pageSize, (long)(first - 1) * pageSize);
            }
            runs.Finish();
        }
        decoder.RequireEndOfStream();
        // A last page that is the lock page is never stored: the size comes from Commit.
        RandomAccess.SetLength(db, (long)header.Commit * pageSize);
        return (header, decoder.Trailer);
    }

    /// <summary>Pages of a database held in a stream, read from its start in order.</summary>
    private sealed class StreamPages(Stream db, int pageSize) : ISnapshotPageSource
    {
        public void ReadPages(uint firstPgno, Span<byte> destination)
        {
            db.Position = (long)(firstPgno - 1) * pageSize;
            var read = db.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
            destination[read..].Clear();
        }
    }
}

/// <summary>How <see cref="LtxSnapshot.Write(Stream, Stream, TxId, LtxSnapshotOptions, Checksum?)"/> builds the file.</summary>
public sealed record LtxSnapshotOptions
{
    /// <summary>LZ4-compress the page block.</summary>
    public bool Compress { get; init; }

    /// <summary>The node ID recorded in the header.</summary>
    public ulong NodeId { get; init; }

    /// <summary>The header timestamp in Unix milliseconds; now when null.</summary>
    public long? Timestamp { get; init; }

    /// <summary>The database's name, for messages.</summary>
    public string Name { get; init; } = "database";
}
