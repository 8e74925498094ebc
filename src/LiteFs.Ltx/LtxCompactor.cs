using System.Buffers;

namespace LiteFs.Ltx;

/// <summary>
/// Merges consecutive LTX files into one: a k-way merge on page number that keeps, for each
/// page, the copy from the latest file, and drops pages beyond the last file's commit size.
/// Every input is read to its trailer and verified.
/// </summary>
public static class LtxCompactor
{
    /// <summary>
    /// Compacts <paramref name="inputs"/> (in any order; they are sorted by TXID) into
    /// <paramref name="output"/>. Returns the output's header and trailer.
    /// </summary>
    public static (LtxHeader Header, LtxTrailer Trailer) Compact(IReadOnlyList<Stream> inputs, Stream output, LtxCompactorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new LtxCompactorOptions();
        if (inputs.Count == 0)
        {
            throw new ArgumentException("at least one input file is required", nameof(inputs));
        }

        var decoders = new LtxDecoder[inputs.Count];
        var buffers = new byte[inputs.Count][];
        var heads = new uint[inputs.Count];
        try
        {
            for (var i = 0; i < inputs.Count; i++)
            {
                decoders[i] = new LtxDecoder(inputs[i]);
                decoders[i].ReadHeader();
            }
            Array.Sort(decoders, static (a, b) => a.Header.MinTxId.CompareTo(b.Header.MinTxId));
            CheckInputs(decoders, options);

            var first = decoders[0].Header;
            var last = decoders[^1].Header;
            var pageSize = first.PageSize;
            for (var i = 0; i < decoders.Length; i++)
            {
                buffers[i] = ArrayPool<byte>.Shared.Rent(pageSize);
                heads[i] = Advance(decoders[i], buffers[i]);
            }

            using var encoder = new LtxEncoder(output);
            encoder.WriteHeader(new LtxHeader
            {
                Flags = options.Compress ? LtxLayout.FlagCompressLz4 : 0,
                PageSize = pageSize,
                Commit = last.Commit,
                MinTxId = first.MinTxId,
                MaxTxId = last.MaxTxId,
                Timestamp = last.Timestamp,
                PreApplyChecksum = first.PreApplyChecksum,
            });
            while (true)
            {
                var pgno = uint.MaxValue;
                var source = -1;
                for (var i = 0; i < heads.Length; i++)
                {
                    // On equal page numbers the later input wins: it holds the newer copy.
                    if (heads[i] != 0 && heads[i] <= pgno)
                    {
                        pgno = heads[i];
                        source = i;
                    }
                }
                if (source < 0)
                {
                    break;
                }
                if (pgno <= last.Commit)
                {
                    encoder.WritePage(pgno, buffers[source].AsSpan(0, pageSize));
                }
                for (var i = 0; i < heads.Length; i++)
                {
                    if (heads[i] == pgno)
                    {
                        heads[i] = Advance(decoders[i], buffers[i]);
                    }
                }
            }
            var trailer = encoder.Finish(decoders[^1].Trailer.PostApplyChecksum);
            return (encoder.Header, trailer);
        }
        finally
        {
            foreach (var d in decoders)
            {
                d?.Dispose();
            }
            foreach (var b in buffers)
            {
                if (b is not null)
                {
                    ArrayPool<byte>.Shared.Return(b);
                }
            }
        }
    }

    private static void CheckInputs(LtxDecoder[] decoders, LtxCompactorOptions options)
    {
        for (var i = 1; i < decoders.Length; i++)
        {
            var prev = decoders[i - 1].Header;
            var cur = decoders[i].Header;
            if (cur.PageSize != prev.PageSize)
            {
                throw new InvalidDataException($"input files have mismatched page sizes: {prev.PageSize} and {cur.PageSize}");
            }
            if (!options.AllowNonContiguousTxIds && cur.MinTxId.Value != prev.MaxTxId.Value + 1)
            {
                throw new InvalidDataException(
                    $"non-contiguous transaction ids in input files: ({prev.MinTxId},{prev.MaxTxId}) then ({cur.MinTxId},{cur.MaxTxId})");
            }
        }
    }

    /// <summary>Reads the next page of an input; 0 when it is exhausted (its trailer then verified).</summary>
    private static uint Advance(LtxDecoder decoder, byte[] buffer) =>
        decoder.ReadPage(out var header, buffer.AsSpan(0, decoder.Header.PageSize)) ? header.Pgno : 0;
}

/// <summary>Options for <see cref="LtxCompactor.Compact"/>.</summary>
public sealed record LtxCompactorOptions
{
    /// <summary>LZ4-compress the output's page block.</summary>
    public bool Compress { get; init; }

    /// <summary>Accept inputs whose TXID ranges have gaps between them.</summary>
    public bool AllowNonContiguousTxIds { get; init; }
}
