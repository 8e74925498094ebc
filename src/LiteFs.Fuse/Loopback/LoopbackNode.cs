using LiteFs.Fuse.Interop;
using LiteFs.Fuse.Locking;

namespace LiteFs.Fuse.Loopback;

/// <summary>One mirrored file or directory, holding an O_PATH descriptor of it.</summary>
internal sealed unsafe partial class LoopbackNode :
    INodeLookup, INodeForget, INodeSetAttributes, INodeOpen, INodeCreate, INodeMakeDirectory,
    INodeUnlink, INodeRemoveDirectory, INodeRename, INodeOpenDirectory, INodeStatFs
{
    /// <summary>"" for the *at(2) calls that take AT_EMPTY_PATH: one byte that lives as long as the process.</summary>
    internal static readonly byte* EmptyPath = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1);

    private readonly LoopbackFileSystem _fileSystem;
    private readonly bool _isRoot;
    private PosixLockSet? _locks;
    private int _fd;

    public LoopbackNode(LoopbackFileSystem fileSystem, int fd, bool isRoot = false)
    {
        _fileSystem = fileSystem;
        _fd = fd;
        _isRoot = isRoot;
    }

    public int Fd => _fd;

    /// <summary>The file's locks, created on first use: one set per inode, as POSIX locks are per inode.</summary>
    public PosixLockSet Locks
    {
        get
        {
            var locks = Volatile.Read(ref _locks);
            return locks ?? Interlocked.CompareExchange(ref _locks, new PosixLockSet(), null) ?? _locks!;
        }
    }

    public Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes) =>
        Stat(handle is LoopbackFile file ? file.Fd : _fd, out attributes);

    internal static Errno Stat(int fd, out FileAttributes attributes)
    {
        StatxBuffer stat;
        if (Libc.Statx(fd, EmptyPath, Libc.AtEmptyPath | Libc.AtSymlinkNoFollow, StatxBuffer.BasicStats, &stat) != 0)
        {
            attributes = default;
            return (Errno)Libc.LastError;
        }
        attributes = new FileAttributes
        {
            Ino = stat.Ino,
            Size = stat.Size,
            Blocks = stat.Blocks,
            ATime = new Timespec(stat.ATime.Seconds, stat.ATime.Nanoseconds),
            MTime = new Timespec(stat.MTime.Seconds, stat.MTime.Nanoseconds),
            CTime = new Timespec(stat.CTime.Seconds, stat.CTime.Nanoseconds),
            Mode = stat.Mode,
            NLink = stat.NLink,
            Uid = stat.Uid,
            Gid = stat.Gid,
            RDev = (stat.RDevMajor << 8) | stat.RDevMinor,
            BlockSize = stat.BlockSize,
        };
        return Errno.Ok;
    }

    public Errno Lookup(FuseContext context, FileName name, out INode? child, out FileAttributes attributes)
    {
        int fd;
        fixed (byte* path = name.NullTerminated)
        {
            fd = Libc.OpenAt(_fd, path, Libc.OPath | Libc.ONoFollow | Libc.OCloExec, 0);
        }
        if (fd < 0)
        {
            child = null;
            attributes = default;
            return (Errno)Libc.LastError;
        }
        var errno = Stat(fd, out attributes);
        if (errno != Errno.Ok)
        {
            _ = Libc.Close(fd);
            child = null;
            return errno;
        }
        child = new LoopbackNode(_fileSystem, fd);
        return Errno.Ok;
    }

    public void Forget()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Libc.Close(fd);
        }
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        Span<byte> path = stackalloc byte[32];
        int fd;
        fixed (byte* pointer = Libc.ProcSelfFd(_fd, path))
        {
            // The kernel resolved the name already; O_NOFOLLOW (SQLite sets it) would now refuse the /proc link itself.
            fd = Libc.OpenAt(Libc.AtFdCwd, pointer, (flags & ~(Libc.OCreat | Libc.OExcl | Libc.ONoCtty | Libc.ONoFollow)) | Libc.OCloExec, 0);
        }
        if (fd < 0)
        {
            result = default;
            return (Errno)Libc.LastError;
        }
        result = OpenResultFor(fd);
        return Errno.Ok;
    }

    private OpenResult OpenResultFor(int fd) => new()
    {
        Handle = new LoopbackFile(this, fd),
        Options = _fileSystem.Options.KeepCache ? OpenOptions.KeepCache : OpenOptions.None,
        PassthroughFd = _fileSystem.Options.Passthrough || _fileSystem.Options.PassthroughOnlyIfInUse ? fd : -1,
        PassthroughOnlyIfInUse = !_fileSystem.Options.Passthrough,
    };

    public Errno Create(FuseContext context, FileName name, int flags, uint mode, uint umask,
        out INode? child, out FileAttributes attributes, out OpenResult result)
    {
        int fd;
        fixed (byte* path = name.NullTerminated)
        {
            fd = Libc.OpenAt(_fd, path, flags | Libc.OCreat | Libc.OCloExec, mode);
        }
        if (fd < 0)
        {
            child = null;
            attributes = default;
            result = default;
            return (Errno)Libc.LastError;
        }
        GiveToCaller(context, fd);
        var errno = Lookup(context, name, out child, out attributes);
        if (errno != Errno.Ok)
        {
            _ = Libc.Close(fd);
            result = default;
            return errno;
        }
        result = ((LoopbackNode)child!).OpenResultFor(fd);
        return Errno.Ok;
    }

    public Errno MakeDirectory(FuseContext context, FileName name, uint mode, uint umask, out INode? child, out FileAttributes attributes)
    {
        int result;
        fixed (byte* path = name.NullTerminated)
        {
            result = Libc.MkdirAt(_fd, path, mode);
        }
        if (result != 0)
        {
            child = null;
            attributes = default;
            return (Errno)Libc.LastError;
        }
        var errno = Lookup(context, name, out child, out attributes);
        if (errno == Errno.Ok && GiveToCaller(context, ((LoopbackNode)child!)._fd))
        {
            errno = Stat(((LoopbackNode)child!)._fd, out attributes);
        }
        return errno;
    }

    /// <summary>A root server creates files owned by the caller, as a kernel file system would.</summary>
    private bool GiveToCaller(FuseContext context, int fd)
    {
        if (!_fileSystem.RunningAsRoot || (context.Uid == 0 && context.Gid == 0))
        {
            return false;
        }
        return Libc.FChownAt(fd, EmptyPath, context.Uid, context.Gid, Libc.AtEmptyPath | Libc.AtSymlinkNoFollow) == 0;
    }

    public Errno Unlink(FuseContext context, FileName name) => UnlinkAt(name, 0);

    public Errno RemoveDirectory(FuseContext context, FileName name) => UnlinkAt(name, Libc.AtRemoveDir);

    private Errno UnlinkAt(FileName name, int flags)
    {
        fixed (byte* path = name.NullTerminated)
        {
            return Libc.UnlinkAt(_fd, path, flags) == 0 ? Errno.Ok : (Errno)Libc.LastError;
        }
    }

    public Errno Rename(FuseContext context, FileName name, INode newParent, FileName newName, RenameFlags flags)
    {
        if (newParent is not LoopbackNode target)
        {
            return Errno.EXDEV;
        }
        fixed (byte* from = name.NullTerminated)
        fixed (byte* to = newName.NullTerminated)
        {
            return Libc.RenameAt2(_fd, from, target._fd, to, (uint)flags) == 0 ? Errno.Ok : (Errno)Libc.LastError;
        }
    }

    public Errno OpenDirectory(FuseContext context, int flags, out IDirectoryHandle? handle, out OpenOptions options)
    {
        Span<byte> path = stackalloc byte[32];
        int fd;
        fixed (byte* pointer = Libc.ProcSelfFd(_fd, path))
        {
            fd = Libc.OpenAt(Libc.AtFdCwd, pointer, Libc.ORdOnly | Libc.ODirectory | Libc.OCloExec, 0);
        }
        options = OpenOptions.None;
        if (fd < 0)
        {
            handle = null;
            return (Errno)Libc.LastError;
        }
        handle = new LoopbackDirectory(this, fd);
        return Errno.Ok;
    }

    public Errno GetFileSystemStats(FuseContext context, out FileSystemStats stats)
    {
        StatVfs vfs;
        if (Libc.FStatVfs(_fd, &vfs) != 0)
        {
            stats = default;
            return (Errno)Libc.LastError;
        }
        stats = new FileSystemStats
        {
            Blocks = vfs.Blocks,
            BlocksFree = vfs.BlocksFree,
            BlocksAvailable = vfs.BlocksAvailable,
            Files = vfs.Files,
            FilesFree = vfs.FilesFree,
            BlockSize = (uint)vfs.BlockSize,
            NameLength = (uint)vfs.NameMax,
            FragmentSize = (uint)vfs.FragmentSize,
        };
        return Errno.Ok;
    }

    public override string ToString() => _isRoot ? $"loopback root {_fileSystem.SourceDirectory}" : $"loopback node fd {_fd}";
}
