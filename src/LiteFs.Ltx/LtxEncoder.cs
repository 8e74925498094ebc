namespace LiteFs.Ltx;

/// <summary>
/// Writes an LTX file to a stream: <see cref="WriteHeader"/>, then <see cref="WritePage"/> for
/// each page, then <see cref="Finish"/>. Enforces the writer rules of the format (page numbers
/// non-zero, within Commit, never the lock page, strictly ascending; snapshots contiguous and
/// complete with a matching post-apply checksum), so every file it finishes is valid.
/// </summary>
public sealed class LtxEncoder : IDisposable
{
    private readonly Stream _output;
    private Lz4FrameWriter? _lz4;
    private ulong _crc;
    private long _bytesWritten;
    private uint _lockPgno;
    private uint _prevPgno;
    private int _pageCount;
    private Checksum _snapshotChecksum = Checksum.Flag;
    private State _state;

    private enum State
    {
        Start,
        Pages,
        Done,
    }

    /// <summary>Creates an encoder writing to <paramref name="output"/>; the caller keeps ownership of it.</summary>
    public LtxEncoder(Stream output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>The header written.</summary>
    public LtxHeader Header { get; private set; }

    /// <summary>The trailer, once <see cref="Finish"/> returned.</summary>
    public LtxTrailer Trailer { get; private set; }

    /// <summary>Pages written so far.</summary>
    public int PageCount => _pageCount;

    /// <summary>
    /// For a snapshot, the rolling checksum of the pages written so far; once every page is
    /// written it is the post-apply checksum to pass to <see cref="Finish"/>.
    /// </summary>
    public Checksum SnapshotChecksum => _snapshotChecksum;

    /// <summary>Bytes written to the output so far (compressed bytes for a compressed file).</summary>
    public long BytesWritten => _bytesWritten + (_lz4?.BytesWritten ?? 0);

    /// <summary>Validates and writes the header; with the LZ4 flag, opens the LZ4 frame.</summary>
    public void WriteHeader(in LtxHeader header)
    {
        if (_state != State.Start)
        {
            throw new InvalidOperationException("The LTX header has already been written.");
        }
        header.Validate();
        Span<byte> buffer = stackalloc byte[LtxLayout.HeaderSize];
        header.Write(buffer);
        _output.Write(buffer);
        _bytesWritten = LtxLayout.HeaderSize;
        _crc = Crc64Iso.Append(0, buffer);
        _lockPgno = LtxLayout.LockPageNumber(header.PageSize);
        Header = header;
        if (header.IsCompressed)
        {
            _lz4 = new Lz4FrameWriter(_output);
        }
        _state = State.Pages;
    }

    /// <summary>Writes one page frame. <paramref name="data"/> must be exactly PageSize bytes.</summary>
    public void WritePage(uint pgno, ReadOnlySpan<byte> data)
    {
        if (_state != State.Pages)
        {
            throw new InvalidOperationException(_state == State.Start ? "Write the LTX header before pages." : "The LTX file is already finished.");
        }
        var header = Header;
        if (data.Length != header.PageSize)
        {
            throw new ArgumentException($"Page {pgno} has {data.Length} bytes; the page size is {header.PageSize}.", nameof(data));
        }
        if (pgno == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pgno), "page number required (0 is not a page)");
        }
        if (pgno > header.Commit)
        {
            throw new ArgumentOutOfRangeException(nameof(pgno), $"page number {pgno} out-of-bounds for commit size {header.Commit}");
        }
        if (pgno == _lockPgno)
        {
            throw new ArgumentOutOfRangeException(nameof(pgno), $"cannot encode lock page {pgno}");
        }
        if (header.IsSnapshot)
        {
            var want = _prevPgno + 1 == _lockPgno ? _prevPgno + 2 : _prevPgno + 1;
            if (pgno != want)
            {
                throw new ArgumentOutOfRangeException(nameof(pgno), $"snapshot pages must be written in order: page {want} expected, {pgno} given");
            }
            _snapshotChecksum = _snapshotChecksum.Xor(Checksum.OfPage(pgno, data));
        }
        else if (pgno <= _prevPgno)
        {
            throw new ArgumentOutOfRangeException(nameof(pgno), $"out-of-order page numbers: {_prevPgno},{pgno}");
        }

        Span<byte> pgnoBytes = stackalloc byte[LtxLayout.PageHeaderSize];
        new PageHeader(pgno).Write(pgnoBytes);
        WriteBlock(pgnoBytes);
        WriteBlock(data);
        _prevPgno = pgno;
        _pageCount++;
    }

    /// <summary>Writes the end marker, closes the LZ4 frame if any, and writes the trailer.</summary>
    public LtxTrailer Finish(Checksum postApplyChecksum)
    {
        if (_state != State.Pages)
        {
            throw new InvalidOperationException(_state == State.Start ? "Write the LTX header before finishing." : "The LTX file is already finished.");
        }
        var header = Header;
        if (!postApplyChecksum.HasFlag)
        {
            throw new ArgumentException($"invalid post-apply checksum format: {postApplyChecksum} (bit 63 must be set)", nameof(postApplyChecksum));
        }
        if (header.Commit == 0 && postApplyChecksum != Checksum.Flag)
        {
            throw new ArgumentException($"a deletion file (commit 0) must have post-apply checksum {Checksum.Flag}", nameof(postApplyChecksum));
        }
        if (header.IsSnapshot)
        {
            var last = header.Commit == _lockPgno ? header.Commit - 1 : header.Commit;
            if (_prevPgno != last)
            {
                throw new InvalidOperationException($"snapshot incomplete: pages up to {_prevPgno} written, commit size is {header.Commit}");
            }
            if (postApplyChecksum != _snapshotChecksum)
            {
                throw new ArgumentException(
                    $"snapshot post-apply checksum {postApplyChecksum} does not match its pages' checksum {_snapshotChecksum}", nameof(postApplyChecksum));
            }
        }

        Span<byte> end = stackalloc byte[LtxLayout.PageHeaderSize];
        end.Clear();
        WriteBlock(end);
        if (_lz4 is not null)
        {
            _lz4.Finish();
            _bytesWritten += _lz4.BytesWritten;
            _lz4.Dispose();
            _lz4 = null;
        }

        Span<byte> trailerBytes = stackalloc byte[LtxLayout.TrailerSize];
        new LtxTrailer(postApplyChecksum, default).Write(trailerBytes);
        _crc = Crc64Iso.Append(_crc, trailerBytes[..LtxLayout.ChecksumSize]);
        var trailer = new LtxTrailer(postApplyChecksum, new Checksum(Checksum.FlagBit | _crc));
        trailer.Write(trailerBytes);
        _output.Write(trailerBytes);
        _bytesWritten += LtxLayout.TrailerSize;
        Trailer = trailer;
        _state = State.Done;
        return trailer;
    }

    private void WriteBlock(ReadOnlySpan<byte> bytes)
    {
        _crc = Crc64Iso.Append(_crc, bytes);
        if (_lz4 is null)
        {
            _output.Write(bytes);
            _bytesWritten += bytes.Length;
        }
        else
        {
            _lz4.Write(bytes);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lz4?.Dispose();
        _lz4 = null;
    }
}
