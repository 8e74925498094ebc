namespace LiteFs.Ltx;

/// <summary>
/// Streams an LTX file: header, pages in order, trailer. Verifies everything a reader can: the
/// header rules, page numbers (non-zero, within Commit, never the lock page, ascending; a
/// snapshot holds every page), the LZ4 frame and its checksums, the trailer, the file checksum
/// and, for snapshots, the post-apply checksum. Reads exactly the file's bytes from the stream,
/// never past the trailer. Any fault throws <see cref="LtxFormatException"/>.
/// </summary>
public sealed class LtxDecoder : IDisposable
{
    private readonly RawReader _raw;
    private Lz4FrameReader? _lz4;
    private ulong _crc;
    private long _blockOffset;
    private uint _lockPgno;
    private uint _prevPgno;
    private Checksum _snapshotChecksum = Checksum.Flag;
    private State _state;

    private enum State
    {
        Start,
        Pages,
        Done,
    }

    /// <summary>Creates a decoder over <paramref name="stream"/>; the caller keeps ownership of it.</summary>
    public LtxDecoder(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _raw = new RawReader(stream);
    }

    /// <summary>The header, once <see cref="ReadHeader"/> returned.</summary>
    public LtxHeader Header { get; private set; }

    /// <summary>The verified trailer, once the last page was read.</summary>
    public LtxTrailer Trailer { get; private set; }

    /// <summary>Pages read so far.</summary>
    public int PageCount { get; private set; }

    /// <summary>Bytes consumed from the stream so far.</summary>
    public long BytesRead => _raw.Offset;

    /// <summary>Whether the trailer has been read and verified.</summary>
    public bool IsComplete => _state == State.Done;

    /// <summary>Reads and validates the header.</summary>
    public LtxHeader ReadHeader()
    {
        if (_state != State.Start)
        {
            throw new InvalidOperationException("The LTX header has already been read.");
        }
        Span<byte> buffer = stackalloc byte[LtxLayout.HeaderSize];
        var n = _raw.ReadAtMost(buffer);
        var header = LtxHeader.Read(buffer[..n]);
        _crc = Crc64Iso.Append(0, buffer);
        _lockPgno = LtxLayout.LockPageNumber(header.PageSize);
        _blockOffset = LtxLayout.HeaderSize;
        if (header.IsCompressed)
        {
            _lz4 = new Lz4FrameReader(_raw);
        }
        Header = header;
        _state = State.Pages;
        return header;
    }

    /// <summary>
    /// Reads the next page into <paramref name="data"/> (exactly PageSize bytes). Returns false at
    /// the end marker, after reading and verifying the trailer.
    /// </summary>
    public bool ReadPage(out PageHeader pageHeader, Span<byte> data) => ReadPage(out pageHeader, data, withChecksum: false, out _);

    /// <summary>
    /// Reads the next page like <see cref="ReadPage(out PageHeader, Span{byte})"/> and gives its
    /// page checksum, computed once (a snapshot's post-apply check folds in the same value).
    /// </summary>
    public bool ReadPage(out PageHeader pageHeader, Span<byte> data, out Checksum checksum) => ReadPage(out pageHeader, data, withChecksum: true, out checksum);

    private bool ReadPage(out PageHeader pageHeader, Span<byte> data, bool withChecksum, out Checksum checksum)
    {
        checksum = default;
        if (_state == State.Start)
        {
            ReadHeader();
        }
        if (_state == State.Done)
        {
            pageHeader = default;
            return false;
        }
        if (data.Length != Header.PageSize)
        {
            throw new ArgumentException($"The page buffer holds {data.Length} bytes; this file's page size is {Header.PageSize}.", nameof(data));
        }

        var frameOffset = _blockOffset;
        Span<byte> pgnoBytes = stackalloc byte[LtxLayout.PageHeaderSize];
        ReadBlock(pgnoBytes, 0);
        pageHeader = PageHeader.Read(pgnoBytes);
        var pgno = pageHeader.Pgno;
        if (pgno == 0)
        {
            ReadTrailer();
            return false;
        }
        CheckPageNumber(pgno, frameOffset);
        ReadBlock(data, pgno);
        if (withChecksum || Header.IsSnapshot)
        {
            checksum = Checksum.OfPage(pgno, data);
        }
        if (Header.IsSnapshot)
        {
            _snapshotChecksum = _snapshotChecksum.Xor(checksum);
        }
        _prevPgno = pgno;
        PageCount++;
        return true;
    }

    /// <summary>Reads every remaining page (discarding them) and the trailer, verifying all of it.</summary>
    public LtxTrailer ReadToEnd()
    {
        if (_state == State.Start)
        {
            ReadHeader();
        }
        if (_state != State.Done)
        {
            var page = System.Buffers.ArrayPool<byte>.Shared.Rent(Header.PageSize);
            try
            {
                while (ReadPage(out _, page.AsSpan(0, Header.PageSize)))
                {
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(page);
            }
        }
        return Trailer;
    }

    private void CheckPageNumber(uint pgno, long offset)
    {
        var header = Header;
        if (pgno > header.Commit)
        {
            throw BlockError(FrameName(), offset, $"page number {pgno} out-of-bounds for commit size {header.Commit}");
        }
        if (pgno == _lockPgno)
        {
            throw BlockError(FrameName(), offset, $"page {pgno} is the lock page for page size {header.PageSize}, which is never stored");
        }
        if (header.IsSnapshot)
        {
            var want = _prevPgno + 1 == _lockPgno ? _prevPgno + 2 : _prevPgno + 1;
            if (pgno != want)
            {
                throw BlockError(FrameName(), offset, $"snapshot pages must be contiguous: found page {pgno}, want page {want}");
            }
        }
        else if (pgno <= _prevPgno)
        {
            throw BlockError(FrameName(), offset, $"out-of-order page numbers: {_prevPgno},{pgno}");
        }
    }

    private string FrameName() => $"page frame {PageCount + 1}";

    private void ReadTrailer()
    {
        _lz4?.ReadEnd();
        var header = Header;
        if (header.IsSnapshot)
        {
            var last = header.Commit == _lockPgno ? header.Commit - 1 : header.Commit;
            if (_prevPgno != last)
            {
                throw BlockError("page block", _blockOffset - LtxLayout.PageHeaderSize,
                    $"snapshot ends after page {_prevPgno} but its commit size is {header.Commit}: pages are missing");
            }
        }

        var trailerOffset = _raw.Offset;
        Span<byte> buffer = stackalloc byte[LtxLayout.TrailerSize];
        _raw.ReadExactly(buffer, "trailer");
        _crc = Crc64Iso.Append(_crc, buffer[..LtxLayout.ChecksumSize]);
        var trailer = LtxTrailer.Read(buffer);

        var computed = new Checksum(Checksum.FlagBit | _crc);
        if (trailer.FileChecksum != computed)
        {
            throw new LtxFormatException("trailer.FileChecksum", trailerOffset + LtxLayout.FileChecksum,
                $"file checksum mismatch: trailer has {trailer.FileChecksum}, content gives {computed}");
        }
        if (!trailer.PostApplyChecksum.HasFlag)
        {
            throw new LtxFormatException("trailer.PostApplyChecksum", trailerOffset,
                $"invalid post-apply checksum format: {trailer.PostApplyChecksum} (bit 63 must be set)");
        }
        if (header.Commit == 0 && trailer.PostApplyChecksum != Checksum.Flag)
        {
            throw new LtxFormatException("trailer.PostApplyChecksum", trailerOffset,
                $"a deletion file (commit 0) must have post-apply checksum {Checksum.Flag}, found {trailer.PostApplyChecksum}");
        }
        if (header.IsSnapshot && trailer.PostApplyChecksum != _snapshotChecksum)
        {
            throw new LtxFormatException("trailer.PostApplyChecksum", trailerOffset,
                $"post-apply checksum in trailer ({trailer.PostApplyChecksum}) does not match calculated checksum ({_snapshotChecksum})");
        }
        Trailer = trailer;
        _state = State.Done;
        DisposeLz4();
    }

    /// <summary>Reads page-block bytes: a page header when <paramref name="pgno"/> is 0, else that page's data.</summary>
    private void ReadBlock(Span<byte> buffer, uint pgno)
    {
        if (_lz4 is null)
        {
            if (_raw.ReadAtMost(buffer) is var got && got < buffer.Length)
            {
                throw BlockError(BlockField(pgno), _raw.Offset,
                    $"unexpected end of file: wanted {buffer.Length} bytes, {got} left (the file is truncated)");
            }
        }
        else if (_lz4.Read(buffer) is var n && n < buffer.Length)
        {
            throw BlockError(BlockField(pgno), _blockOffset + n,
                $"the LZ4 frame's content ends {buffer.Length - n} bytes short (no end marker before the frame ended)");
        }
        _crc = Crc64Iso.Append(_crc, buffer);
        _blockOffset += buffer.Length;
    }

    private string BlockField(uint pgno) => pgno == 0 ? $"{FrameName()} header" : $"page {pgno} data";

    private LtxFormatException BlockError(string field, long offset, string detail) =>
        _lz4 is null
            ? new LtxFormatException(field, offset, detail)
            : new LtxFormatException(field, offset, detail + " (offset counts decompressed bytes of the LZ4 page block)");

    private void DisposeLz4()
    {
        _lz4?.Dispose();
        _lz4 = null;
    }

    /// <inheritdoc />
    public void Dispose() => DisposeLz4();

    /// <summary>
    /// Decodes and verifies a whole LTX file from <paramref name="stream"/>, which must end right
    /// after the trailer.
    /// </summary>
    public static (LtxHeader Header, LtxTrailer Trailer, int PageCount) Verify(Stream stream)
    {
        using var decoder = new LtxDecoder(stream);
        decoder.ReadHeader();
        var trailer = decoder.ReadToEnd();
        decoder.RequireEndOfStream();
        return (decoder.Header, trailer, decoder.PageCount);
    }

    /// <summary>Once the trailer is read: the stream must end there.</summary>
    internal void RequireEndOfStream()
    {
        var stream = _raw.Stream;
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
        {
            var extra = stream.CanSeek ? stream.Length - BytesRead : 1;
            throw new LtxFormatException("trailer", BytesRead, $"{extra} unexpected byte(s) follow the trailer");
        }
    }
}
