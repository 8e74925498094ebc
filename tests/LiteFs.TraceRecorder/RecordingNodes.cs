using System.IO.Hashing;
using LiteFs.Core;
using LiteFs.FileSystem;
using LiteFs.Fuse;
using LiteFs.TestKit;
using FileAttributes = LiteFs.Fuse.FileAttributes;

namespace LiteFs.TraceRecorder;

/// <summary>
/// The operations recorded so far. Every recorded call runs under <see cref="Sync"/>, so the
/// trace's order is the order in which the file system handled them.
/// </summary>
internal sealed class Recording
{
    public object Sync { get; } = new();

    public List<TraceRecord> Records { get; } = [];

    /// <summary>Runs <paramref name="call"/> under the lock and records what it did, also when it throws.</summary>
    public Errno Run(Func<Errno> call, Func<int, TraceRecord> record)
    {
        lock (Sync)
        {
            try
            {
                var errno = call();
                Records.Add(record((int)errno));
                return errno;
            }
            catch (Exception ex)
            {
                Records.Add(record((int)Errors.ToErrno(ex)));
                throw;
            }
        }
    }
}

/// <summary>The LiteFS root with its database files wrapped in <see cref="RecordingFile"/>.</summary>
internal sealed class RecordingRoot(RootNode inner, Recording recording)
    : INodeLookup, INodeCreate, INodeUnlink, INodeOpenDirectory, INodeStatFs, INodeMakeDirectory, INodeRename, INodeSetAttributes
{
    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes) =>
        inner.GetAttributes(context, handle, out attributes);

    public Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes) =>
        inner.SetAttributes(context, request, out attributes);

    public Errno Lookup(FuseContext context, FileName name, out INode? child, out FileAttributes attributes)
    {
        var errno = inner.Lookup(context, name, out child, out attributes);
        child = Wrap(child);
        return errno;
    }

    public Errno Create(FuseContext context, FileName name, int flags, uint mode, uint umask,
        out INode? child, out FileAttributes attributes, out OpenResult result)
    {
        var file = FileOf(name.ToString());
        INode? created = null;
        var attrs = default(FileAttributes);
        var open = default(OpenResult);
        var nameBytes = name.NullTerminated.ToArray();
        var errno = recording.Run(
            () => inner.Create(context, new FileName(nameBytes), flags, mode, umask, out created, out attrs, out open),
            status => new TraceRecord { Op = TraceOp.Create, File = file, Flags = flags, Status = status });
        child = Wrap(created);
        attributes = attrs;
        result = open;
        if (child is RecordingFile wrapper)
        {
            result.Handle = wrapper;
        }
        return errno;
    }

    public Errno Unlink(FuseContext context, FileName name)
    {
        var file = FileOf(name.ToString());
        var nameBytes = name.NullTerminated.ToArray();
        return recording.Run(
            () => inner.Unlink(context, new FileName(nameBytes)),
            status => new TraceRecord { Op = TraceOp.Unlink, File = file, Status = status });
    }

    public Errno OpenDirectory(FuseContext context, int flags, out IDirectoryHandle? handle, out OpenOptions options) =>
        inner.OpenDirectory(context, flags, out handle, out options);

    public Errno GetFileSystemStats(FuseContext context, out FileSystemStats stats) => inner.GetFileSystemStats(context, out stats);

    public Errno MakeDirectory(FuseContext context, FileName name, uint mode, uint umask, out INode? child, out FileAttributes attributes) =>
        inner.MakeDirectory(context, name, mode, umask, out child, out attributes);

    public Errno Rename(FuseContext context, FileName name, INode newParent, FileName newName, RenameFlags flags) =>
        inner.Rename(context, name, newParent, newName, flags);

    private static DbFileKind FileOf(string name) => Names.FileKind(Names.Parse(name).Kind) ?? DbFileKind.Database;

    private INode? Wrap(INode? node) => node is DbFileNode file ? new RecordingFile(file, Names.FileKind(file.Kind)!.Value, recording) : node;
}

/// <summary>A database, journal, WAL or SHM file whose operations are recorded on their way to the node.</summary>
internal sealed class RecordingFile(DbFileNode inner, DbFileKind file, Recording recording)
    : INodeOpen, INodeSetAttributes, IHandleRead, IHandleWrite, IHandleFlush, IHandleFsync, IHandleLocks
{
    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes) =>
        inner.GetAttributes(context, null, out attributes);

    public Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes)
    {
        if (!request.Has(SetAttributesFields.Size))
        {
            return inner.SetAttributes(context, request, out attributes);
        }
        var copy = request with { Handle = null };
        var attrs = default(FileAttributes);
        var errno = recording.Run(
            () => inner.SetAttributes(context, copy, out attrs),
            status => new TraceRecord { Op = TraceOp.Truncate, File = file, Offset = (long)copy.Size, Status = status });
        attributes = attrs;
        return errno;
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        var open = default(OpenResult);
        var errno = recording.Run(
            () => inner.Open(context, flags, out open),
            status => new TraceRecord { Op = TraceOp.Open, File = file, Flags = flags, Status = status });
        result = open;
        if (ReferenceEquals(result.Handle, inner))
        {
            result.Handle = this;
        }
        return errno;
    }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        lock (recording.Sync)
        {
            var errno = inner.Read(context, offset, buffer, out bytesRead);
            recording.Records.Add(new TraceRecord
            {
                Op = TraceOp.Read,
                File = file,
                Offset = offset,
                Length = buffer.Length,
                End = bytesRead,
                Crc = Crc32.HashToUInt32(buffer[..bytesRead]),
                Status = (int)errno,
            });
            return errno;
        }
    }

    public Errno Write(FuseContext context, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        var bytes = data.ToArray();
        var written = 0;
        var errno = recording.Run(
            () => inner.Write(context, offset, bytes, out written),
            status => new TraceRecord { Op = TraceOp.Write, File = file, Offset = offset, Data = bytes, Status = status });
        bytesWritten = written;
        return errno;
    }

    public Errno Flush(FuseContext context, ulong lockOwner) => recording.Run(
        () => inner.Flush(context, lockOwner),
        _ => new TraceRecord { Op = TraceOp.Release, File = file, Owner = lockOwner });

    public Errno Fsync(FuseContext context, bool dataOnly) => recording.Run(
        () => inner.Fsync(context, dataOnly),
        status => new TraceRecord { Op = TraceOp.Sync, File = file, Status = status });

    public Errno GetLock(FuseContext context, in FileLock request, out FileLock conflict)
    {
        var copy = request;
        var answer = default(FileLock);
        var errno = recording.Run(
            () => inner.GetLock(context, copy, out answer),
            _ => new TraceRecord { Op = TraceOp.QueryLock, File = file, Owner = copy.Owner, Flags = (int)copy.Type, Offset = (long)copy.Start, End = End(copy), Status = (int)answer.Type });
        conflict = answer;
        return errno;
    }

    public ValueTask<Errno> SetLock(FuseContext context, FileLock request, bool wait, CancellationToken cancellationToken)
    {
        // SQLite never waits for a lock: the inner call completes at once.
        var errno = recording.Run(
            () => inner.SetLock(context, request, wait, cancellationToken).AsTask().GetAwaiter().GetResult(),
            status => new TraceRecord { Op = TraceOp.Lock, File = file, Owner = request.Owner, Flags = (int)request.Type, Offset = (long)request.Start, End = End(request), Status = status });
        return ValueTask.FromResult(errno);
    }

    /// <summary>The last byte as the file system passes it on (an open range ends at long.MaxValue).</summary>
    private static long End(in FileLock request) => request.End >= long.MaxValue ? long.MaxValue : (long)request.End;
}
