namespace LiteFs.Core;

/// <summary>
/// Where an LTX file is encoded: in memory while it is small (a typical transaction's file is
/// written with one call), moved to a file beside its final place once it grows past
/// <see cref="MemoryLimit"/>, so a transaction of any size is recorded with bounded memory.
/// </summary>
/// <remarks>Owned by its <see cref="LtxWriter"/> (the database's monitor).</remarks>
internal sealed class SpillBuffer(string spillPath) : Stream
{
    /// <summary>Bytes kept in memory before the file is moved to disk.</summary>
    public const int MemoryLimit = 8 << 20;

    /// <summary>
    /// Bytes of the spill file after which their writing to disk is started (not waited for):
    /// the disk writes the file while the rest is encoded, so the sync that makes it durable
    /// finds little left, instead of the whole file at once.
    /// </summary>
    private const long WritebackInterval = 8 << 20;

    private readonly MemoryStream _memory = new();
    private FileStream? _file;

    /// <summary>Where the spill file's next writeback starts: the bytes before it were handed to the disk.</summary>
    private long _writebackFrom;

    /// <summary>The spill file, once the buffer went to disk; null while it is in memory.</summary>
    public string? SpilledPath => _file is null ? null : spillPath;

    /// <summary>The encoded bytes while in memory.</summary>
    public ArraySegment<byte> InMemory => _file is null ? new ArraySegment<byte>(_memory.GetBuffer(), 0, (int)_memory.Length) : throw new InvalidOperationException("the buffer spilled to disk");

    /// <summary>The name of the spill file in the LTX directory (removed at start-up if a process left it).</summary>
    public const string SpillName = ".spill.ltx.tmp";

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _file?.Length ?? _memory.Length;

    public override long Position
    {
        get => Length;
        set => throw new NotSupportedException();
    }

    /// <summary>Empties the buffer for the next file (a spill file left is the caller's to have renamed or deleted).</summary>
    public void Reset()
    {
        _file?.Dispose();
        _file = null;
        _writebackFrom = 0;
        _memory.SetLength(0);
        if (_memory.Capacity > MemoryLimit)
        {
            _memory.Capacity = 0;
        }
    }

    /// <summary>Writes what is buffered in the spill file to disk, durably when asked; then closes it.</summary>
    public void FinishSpill(bool durable)
    {
        if (_file is null)
        {
            return;
        }
        _file.Flush(flushToDisk: durable);
        _file.Dispose();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_file is null && _memory.Length + buffer.Length > MemoryLimit)
        {
            _file = new FileStream(spillPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            _file.Write(_memory.GetBuffer().AsSpan(0, (int)_memory.Length));
            _memory.SetLength(0);
            _memory.Capacity = 0;
        }
        if (_file is not null)
        {
            _file.Write(buffer);
            if (_file.Position - _writebackFrom >= WritebackInterval)
            {
                _file.Flush(flushToDisk: false);
                Posix.StartWriteback(_file.SafeFileHandle, _writebackFrom, _file.Position - _writebackFrom);
                _writebackFrom = _file.Position;
            }
        }
        else
        {
            _memory.Write(buffer);
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file?.Dispose();
            _memory.Dispose();
        }
        base.Dispose(disposing);
    }
}
