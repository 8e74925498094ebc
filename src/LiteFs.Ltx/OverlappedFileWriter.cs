using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace LiteFs.Ltx;

/// <summary>
/// Writes a file in runs from two pooled buffers: while a pool thread writes one run, the caller
/// fills the other, so copying into the page cache (as costly as decoding) overlaps with
/// producing the next run. The second buffer is taken only when a second run starts, and the
/// last run can be written on the caller's thread: a file of one run costs one write(2) and no
/// thread hop. The file stays the caller's.
/// </summary>
public sealed class OverlappedFileWriter : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly int _size;
    private readonly byte[]?[] _buffers = new byte[]?[2];
    private int _current;
    private Task _pending = Task.CompletedTask;
    private bool _disposed;

    /// <summary>Writes into <paramref name="file"/> in runs of up to <paramref name="size"/> bytes.</summary>
    public OverlappedFileWriter(SafeFileHandle file, int size)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        _file = file;
        _size = size;
    }

    /// <summary>The buffer being filled (at least the run size).</summary>
    public byte[] Buffer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _buffers[_current] ??= ArrayPool<byte>.Shared.Rent(_size);
        }
    }

    /// <summary>The buffer filled after <see cref="Buffer"/>, once its last write finished.</summary>
    public byte[] Next
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            WaitPending();
            return _buffers[_current ^ 1] ??= ArrayPool<byte>.Shared.Rent(_size);
        }
    }

    /// <summary>Starts writing the first <paramref name="length"/> bytes of <see cref="Buffer"/> at <paramref name="offset"/> and switches buffers.</summary>
    public void Write(int length, long offset)
    {
        var buffer = Buffer;
        WaitPending();
        _pending = RandomAccess.WriteAsync(_file, buffer.AsMemory(0, length), offset).AsTask();
        _current ^= 1;
    }

    /// <summary>Writes the first <paramref name="length"/> bytes of <see cref="Buffer"/> at <paramref name="offset"/> on this thread, after the pending run: the file is complete.</summary>
    public void WriteLast(int length, long offset)
    {
        var buffer = Buffer;
        WaitPending();
        RandomAccess.Write(_file, buffer.AsSpan(0, length), offset);
    }

    /// <summary>Waits for the last run's write (and throws its error).</summary>
    public void Finish() => WaitPending();

    private void WaitPending() => _pending.GetAwaiter().GetResult();

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            // A buffer goes back to the pool only once no write reads it any more.
            _pending.Wait();
        }
        catch (AggregateException)
        {
            // Already thrown by Write or Finish, or beside the error being thrown.
        }
        foreach (var buffer in _buffers)
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
