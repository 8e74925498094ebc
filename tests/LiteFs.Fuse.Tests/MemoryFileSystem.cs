using System.Collections.Concurrent;
using System.Text;

namespace LiteFs.Fuse.Tests;

/// <summary>
/// A tiny in-memory file system whose contents the test changes behind the kernel's back (to test
/// invalidation) and whose files can fail on purpose (fault injection).
/// </summary>
internal sealed class MemoryDirectory(ulong ino) : INodeLookup
{
    public ConcurrentDictionary<string, MemoryFile> Children { get; } = new(StringComparer.Ordinal);

    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        attributes = new FileAttributes { Ino = ino, Mode = FileModes.Directory | 0x1ED, NLink = 2 };
        return Errno.Ok;
    }

    public Errno Lookup(FuseContext context, FileName name, out INode? child, out FileAttributes attributes)
    {
        if (Children.TryGetValue(name.ToString(), out var file))
        {
            child = file;
            return file.GetAttributes(context, null, out attributes);
        }
        child = null;
        attributes = default;
        return Errno.ENOENT;
    }
}

internal sealed class MemoryFile(ulong ino, string content) : INodeOpen, IHandleRead
{
    private byte[] _content = Encoding.UTF8.GetBytes(content);

    public string Content
    {
        get => Encoding.UTF8.GetString(Volatile.Read(ref _content));
        set => Volatile.Write(ref _content, Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Thrown from Read when set: a bug in file system code.</summary>
    public Exception? ReadFailure { get; set; }

    public int Reads;

    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        attributes = new FileAttributes { Ino = ino, Mode = FileModes.Regular | 0x1A4, NLink = 1, Size = (ulong)Volatile.Read(ref _content).Length };
        return Errno.Ok;
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        // Stateless (reads go to the node) and cached across opens: only invalidation refreshes it.
        result = OpenResult.For(null, OpenOptions.KeepCache);
        return Errno.Ok;
    }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        Interlocked.Increment(ref Reads);
        if (ReadFailure is { } failure)
        {
            throw failure;
        }
        var content = Volatile.Read(ref _content);
        var start = (int)Math.Min(offset, content.Length);
        bytesRead = Math.Min(buffer.Length, content.Length - start);
        content.AsSpan(start, bytesRead).CopyTo(buffer);
        return Errno.Ok;
    }
}
