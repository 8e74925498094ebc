using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Ltx;

/// <summary>
/// Applies LTX files to a raw database file, keeping its position and rolling checksum up to
/// date incrementally (each changed page's old checksum is folded out and its new one in).
/// A file is verified completely before the database is touched, so a corrupt file changes
/// nothing; a non-snapshot file is applied only at its pre-apply position, and the resulting
/// checksum must equal the file's post-apply checksum.
/// </summary>
public sealed class LtxApplier
{
    private readonly SafeFileHandle _db;
    private readonly string _name;
    private readonly bool _positionKnown;

    /// <summary>
    /// Opens the applier on a database file handle (read/write). With <paramref name="position"/>
    /// the database is taken to be at that position; without it, its checksum is computed and its
    /// TXID is unknown (any file whose pre-apply checksum matches may be applied first).
    /// </summary>
    public LtxApplier(SafeFileHandle db, string name, Pos? position = null)
    {
        ArgumentNullException.ThrowIfNull(db);
        _db = db;
        _name = name;
        var length = RandomAccess.GetLength(db);
        if (length > 0)
        {
            using var stream = new FileStream(new SafeFileHandle(db.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
            PageSize = SqliteDatabase.ReadPageSize(stream, name);
            if (length % PageSize != 0)
            {
                throw new InvalidDataException($"{name} is {length} bytes, not a whole number of {PageSize}-byte pages");
            }
            PageCount = (uint)(length / PageSize);
            Checksum = position?.PostApplyChecksum ?? SqliteDatabase.ComputeChecksum(stream, name);
        }
        _positionKnown = position is not null || length == 0;
        Position = position ?? new Pos(TxId.Zero, length == 0 ? default : Checksum);
    }

    /// <summary>The database's page size (0 while it is empty).</summary>
    public int PageSize { get; private set; }

    /// <summary>Pages in the database.</summary>
    public uint PageCount { get; private set; }

    /// <summary>The database's rolling checksum.</summary>
    public Checksum Checksum { get; private set; } = Checksum.Flag;

    /// <summary>The database's position; TXID 0 until a file was applied when it was opened without one.</summary>
    public Pos Position { get; private set; }

    /// <summary>
    /// Verifies the LTX file in <paramref name="ltx"/>, then applies it. A stream that cannot seek
    /// is first copied to a temporary file. Returns the file's header.
    /// </summary>
    public LtxHeader Apply(Stream ltx, string ltxName)
    {
        ArgumentNullException.ThrowIfNull(ltx);
        if (!ltx.CanSeek)
        {
            var temp = Path.GetTempFileName();
            try
            {
                using var copy = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 4096, FileOptions.DeleteOnClose);
                ltx.CopyTo(copy);
                copy.Position = 0;
                return Apply(copy, ltxName);
            }
            finally
            {
                File.Delete(temp);
            }
        }

        var start = ltx.Position;
        var (header, trailer, _) = LtxDecoder.Verify(ltx);
        CheckApplicable(header, ltxName);
        ltx.Position = start;
        using var decoder = new LtxDecoder(ltx);
        decoder.ReadHeader();
        ApplyPages(decoder);
        if (Checksum != trailer.PostApplyChecksum)
        {
            throw new InvalidDataException(
                $"applying {ltxName} left {_name} with checksum {Checksum}, but the file's post-apply checksum is {trailer.PostApplyChecksum}");
        }
        Position = new Pos(header.MaxTxId, trailer.PostApplyChecksum);
        return header;
    }

    private void CheckApplicable(in LtxHeader header, string ltxName)
    {
        if (header.IsSnapshot)
        {
            return;
        }
        if (PageCount > 0 && header.PageSize != PageSize)
        {
            throw new InvalidDataException($"{ltxName} has page size {header.PageSize} but {_name} has page size {PageSize}");
        }
        var pre = header.PreApplyPos;
        var txidMatches = !_positionKnown && Position.TxId.Value == 0 || pre.TxId == Position.TxId;
        if (!txidMatches || pre.PostApplyChecksum != Checksum)
        {
            throw new InvalidDataException(
                $"{ltxName} applies at position {pre} but {_name} is at position {new Pos(Position.TxId, Checksum)}: files must be applied in order on the state they were made from");
        }
    }

    private void ApplyPages(LtxDecoder decoder)
    {
        var header = decoder.Header;
        var pageSize = header.PageSize;
        var lockPgno = LtxLayout.LockPageNumber(pageSize);
        var oldCount = header.IsSnapshot ? 0u : PageCount;
        var checksum = header.IsSnapshot ? Checksum.Flag : Checksum;
        var newBuffer = ArrayPool<byte>.Shared.Rent(pageSize);
        var oldBuffer = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            var page = newBuffer.AsSpan(0, pageSize);
            var old = oldBuffer.AsSpan(0, pageSize);

            // Pages past the old end that the file does not carry read back as zeros.
            var nextNew = oldCount + 1;
            while (decoder.ReadPage(out var ph, page))
            {
                var pgno = ph.Pgno;
                var offset = (long)(pgno - 1) * pageSize;
                if (pgno <= oldCount)
                {
                    RandomAccess.Read(_db, old, offset);
                    checksum = checksum.Xor(Checksum.OfPage(pgno, old));
                }
                else
                {
                    checksum = FoldZeroPages(checksum, nextNew, pgno - 1, lockPgno, old);
                    nextNew = pgno + 1;
                }
                RandomAccess.Write(_db, page, offset);
                checksum = checksum.Xor(Checksum.OfPage(pgno, page));
            }

            var commit = header.Commit;
            if (commit < oldCount)
            {
                for (var pgno = commit + 1; pgno <= oldCount; pgno++)
                {
                    if (pgno != lockPgno)
                    {
                        RandomAccess.Read(_db, old, (long)(pgno - 1) * pageSize);
                        checksum = checksum.Xor(Checksum.OfPage(pgno, old));
                    }
                }
            }
            else
            {
                checksum = FoldZeroPages(checksum, Math.Max(nextNew, oldCount + 1), commit, lockPgno, old);
            }
            RandomAccess.SetLength(_db, (long)commit * pageSize);
            PageSize = commit == 0 && PageCount == 0 ? 0 : pageSize;
            PageCount = commit;
            Checksum = checksum;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(newBuffer);
            ArrayPool<byte>.Shared.Return(oldBuffer);
        }
    }

    private static Checksum FoldZeroPages(Checksum checksum, uint from, uint to, uint lockPgno, Span<byte> scratch)
    {
        if (from > to)
        {
            return checksum;
        }
        scratch.Clear();
        for (var pgno = from; pgno <= to; pgno++)
        {
            if (pgno != lockPgno)
            {
                checksum = checksum.Xor(Checksum.OfPage(pgno, scratch));
            }
        }
        return checksum;
    }
}
