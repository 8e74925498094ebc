using System.Buffers;

namespace LiteFs.Ltx;

/// <summary>Writes snapshot LTX files (MinTXID 1: every page of a database) from raw database files.</summary>
public static class LtxSnapshot
{
    /// <summary>
    /// Encodes the database in <paramref name="db"/> as a snapshot at <paramref name="txid"/>.
    /// With <paramref name="expected"/>, the pages' checksum must equal it (the database must be
    /// at the position the snapshot claims), otherwise nothing valid is finished and
    /// <see cref="InvalidDataException"/> is thrown.
    /// </summary>
    public static LtxTrailer Write(Stream db, Stream output, TxId txid, LtxSnapshotOptions options, Checksum? expected = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(output);
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
        var commit = (uint)(db.Length / pageSize);
        var lockPgno = LtxLayout.LockPageNumber(pageSize);
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
        var buffer = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            var page = buffer.AsSpan(0, pageSize);
            db.Position = 0;
            for (uint pgno = 1; pgno <= commit; pgno++)
            {
                db.ReadExactly(page);
                if (pgno != lockPgno)
                {
                    encoder.WritePage(pgno, page);
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
}

/// <summary>How <see cref="LtxSnapshot.Write"/> builds the file.</summary>
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
