using Microsoft.Win32.SafeHandles;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// Reads the valid prefix of a SQLite WAL file: frames are returned while their salts match the
/// header and their cumulative checksums verify. Whatever follows (a torn frame, frames of an
/// older WAL generation, garbage) ends the WAL, as SQLite's own recovery treats it; that is not
/// an error.
/// </summary>
internal sealed class WalReader
{
    private readonly SafeFileHandle _file;
    private readonly long _length;
    private uint _s0;
    private uint _s1;

    private WalReader(SafeFileHandle file, WalHeader header)
    {
        _file = file;
        _length = RandomAccess.GetLength(file);
        Header = header;
        _s0 = header.Checksum1;
        _s1 = header.Checksum2;
        Offset = 0;
    }

    private WalReader(SafeFileHandle file, WalCursor cursor, int pageSize)
    {
        _file = file;
        _length = RandomAccess.GetLength(file);
        Header = new WalHeader(cursor.BigEndian ? WalHeader.MagicBigEndian : WalHeader.MagicLittleEndian, WalHeader.SupportedVersion,
            pageSize, 0, cursor.Salt1, cursor.Salt2, 0, 0);
        (_s0, _s1) = (cursor.S0, cursor.S1);
        _next = cursor.Offset;
    }

    /// <summary>
    /// A reader that goes on from <paramref name="cursor"/> (an adopted generation): the frames
    /// after the last recorded transaction.
    /// </summary>
    public static WalReader Resume(SafeFileHandle file, WalCursor cursor, int pageSize) => new(file, cursor, pageSize);

    /// <summary>The WAL header.</summary>
    public WalHeader Header { get; }

    /// <summary>Offset of the frame last returned (0 before the first).</summary>
    public long Offset { get; private set; }

    private long _next = WalHeader.Size;

    /// <summary>Offset where the next frame would start.</summary>
    public long NextOffset => _next;

    /// <summary>The running checksum after the last frame returned.</summary>
    public (uint S0, uint S1) Checksum => (_s0, _s1);

    /// <summary>The position after the last frame returned, as a cursor of this generation.</summary>
    public WalCursor Cursor => new(Header.BigEndianChecksums, Header.Salt1, Header.Salt2, _s0, _s1, _next);

    /// <summary>
    /// Opens a reader. Returns null when the file has no complete, valid header (too short, or a
    /// header checksum mismatch: an empty WAL); throws <see cref="InvalidDataException"/> for a
    /// bad magic or an unsupported version.
    /// </summary>
    public static WalReader? Open(SafeFileHandle file)
    {
        Span<byte> buffer = stackalloc byte[WalHeader.Size];
        if (RandomAccess.Read(file, buffer, 0) < WalHeader.Size)
        {
            return null;
        }
        var header = WalHeader.Read(buffer);
        if (!header.HasValidMagic)
        {
            throw new InvalidDataException($"invalid wal header magic: {header.Magic:x}");
        }
        if (!WalHeader.ChecksumMatches(buffer, header))
        {
            return null;
        }
        if (header.Version != WalHeader.SupportedVersion)
        {
            throw new InvalidDataException($"unsupported wal version: {header.Version}");
        }
        return new WalReader(file, header);
    }

    /// <summary>
    /// Reads the next frame's page into <paramref name="page"/> (exactly the page size). Returns
    /// false at the end of the valid WAL.
    /// </summary>
    public bool ReadFrame(Span<byte> page, out WalFrameHeader frame)
    {
        frame = default;
        if (page.Length != Header.PageSize)
        {
            throw new ArgumentException($"WALReader.ReadFrame(): buffer size ({page.Length}) must match page size ({Header.PageSize})", nameof(page));
        }
        if (_next + WalHeader.FrameHeaderSize + page.Length > _length)
        {
            return false;
        }
        Span<byte> fh = stackalloc byte[WalHeader.FrameHeaderSize];
        if (RandomAccess.Read(_file, fh, _next) < fh.Length || RandomAccess.Read(_file, page, _next + fh.Length) < page.Length)
        {
            return false;
        }
        return Accept(fh, page, out frame);
    }

    /// <summary>
    /// Reads the next whole frame (header, then page) through <paramref name="readAhead"/>: the
    /// buffer is filled with as many whole frames as it holds in one read, and each is returned
    /// from there, so following a large WAL costs one read per buffer instead of one per frame.
    /// <paramref name="frame"/> points into the buffer and stays valid until the next call.
    /// Returns false at the end of the valid WAL. The same buffer must be given to every call on
    /// this reader.
    /// </summary>
    public bool ReadFrameAhead(byte[] readAhead, out ReadOnlySpan<byte> frame, out WalFrameHeader header)
    {
        frame = default;
        header = default;
        var frameSize = WalHeader.FrameHeaderSize + Header.PageSize;
        if (readAhead.Length < frameSize)
        {
            throw new ArgumentException($"a read-ahead buffer holds at least one frame ({frameSize} bytes), not {readAhead.Length}", nameof(readAhead));
        }
        if (_next + frameSize > _length)
        {
            return false;
        }
        if (_next < _aheadStart || _next + frameSize > _aheadStart + _aheadLength)
        {
            var want = (int)Math.Min(readAhead.Length / frameSize * (long)frameSize, _length - _next);
            _aheadStart = _next;
            _aheadLength = RandomAccess.Read(_file, readAhead.AsSpan(0, want), _next);
            if (_aheadLength < frameSize)
            {
                return false;
            }
        }
        frame = readAhead.AsSpan((int)(_next - _aheadStart), frameSize);
        return Accept(frame[..WalHeader.FrameHeaderSize], frame[WalHeader.FrameHeaderSize..], out header);
    }

    /// <summary>Where the read-ahead buffer's bytes start in the file, and how many it holds (0: none).</summary>
    private long _aheadStart;
    private int _aheadLength;

    /// <summary>Checks a frame read at the current offset (salts, cumulative checksum) and moves past it.</summary>
    private bool Accept(ReadOnlySpan<byte> fh, ReadOnlySpan<byte> page, out WalFrameHeader frame)
    {
        frame = default;
        var header = WalFrameHeader.Read(fh);
        if (header.Salt1 != Header.Salt1 || header.Salt2 != Header.Salt2)
        {
            return false;
        }
        var big = Header.BigEndianChecksums;
        var (s0, s1) = WalChecksum.Append(big, _s0, _s1, fh[..WalFrameHeader.ChecksummedSize]);
        (s0, s1) = WalChecksum.Append(big, s0, s1, page);
        if (s0 != header.Checksum1 || s1 != header.Checksum2)
        {
            return false;
        }
        (_s0, _s1) = (s0, s1);
        Offset = _next;
        _next += fh.Length + page.Length;
        frame = header;
        return true;
    }
}
