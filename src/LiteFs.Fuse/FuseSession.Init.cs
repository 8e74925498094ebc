using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed unsafe partial class FuseSession
{
    /// <summary>
    /// What this library asks the kernel for. Every bit is a deliberate choice; bits not listed are
    /// left off on purpose (see the remarks in <see cref="ChooseFlags"/>).
    /// </summary>
    private InitFlags ChooseFlags()
    {
        var wanted =
            // Several READs of one file may be outstanding (readahead, parallel preads); our readers
            // and handles are thread-safe.
            InitFlags.AsyncRead
            // open(O_TRUNC) arrives as one OPEN carrying O_TRUNC instead of OPEN + SETATTR(size 0): one
            // round trip, and the truncation is atomic with the open as the caller expects.
            | InitFlags.AtomicOTrunc
            // Writes larger than one page (obsolete since Linux 4.20, where it is implied, but harmless).
            | InitFlags.BigWrites
            // READDIRPLUS returns attributes with names, and AUTO lets the kernel use it only when it
            // helps (ls -l) and plain READDIR otherwise.
            | InitFlags.DoReadDirPlus | InitFlags.ReadDirPlusAuto
            // Lookups and readdirs in one directory may run concurrently: node code is thread-safe,
            // and SQLite's constant -journal/-wal probes in one directory must not serialize.
            | InitFlags.ParallelDirOps
            // Honor max_pages so reads and writes can be up to MaxWrite (1 MiB), not 128 KiB.
            | InitFlags.MaxPages
            // flags2 carries bits 32..63 (passthrough).
            | InitFlags.InitExt;
        if (_options.PosixLocks)
        {
            // fcntl record locks (and OFD locks) are sent to the file system, which decides: LiteFS
            // implements SQLite's locking protocol on them. Without it the kernel keeps them locally.
            wanted |= InitFlags.PosixLocks;
        }
        if (_options.Passthrough)
        {
            // Open files may be backed by a real file the kernel reads and writes directly.
            wanted |= InitFlags.Passthrough;
        }
        // Deliberately not requested:
        // - WritebackCache: the file system must see every write when it happens (LiteFS captures
        //   transactions from them) and it rules out passthrough.
        // - AutoInvalData: cached pages stay valid until the file system says otherwise
        //   (FUSE_NOTIFY_INVAL_INODE); mtime-driven invalidation would drop the cache after every
        //   write through the mount.
        // - FlockLocks: flock(2) stays local to the kernel; SQLite uses fcntl locks only.
        // - DontMask: the kernel applies the umask, so modes arrive final.
        // - ExportSupport: no NFS export ("." and ".." lookups).
        // - Splice*: every reply is one write(2) from the reader's pinned buffer; splicing would need
        //   a pipe per reader for no gain on SQLite's page-sized I/O.
        return wanted;
    }

    private static Errno OnInit(FuseSession session, ref Exchange exchange)
    {
        ref readonly var init = ref exchange.Arg<InitIn>();
        if (init.Major != Abi.KernelMajor || init.Minor < Abi.OldestMinor)
        {
            // An incompatible kernel: EPROTO ends the connection with a clear kernel log line.
            return (Errno)71;
        }
        var offered = (InitFlags)init.Flags;
        if ((offered & InitFlags.InitExt) != 0)
        {
            offered |= (InitFlags)((ulong)init.Flags2 << 32);
        }
        var flags = session.ChooseFlags() & offered;
        if (session._options.Passthrough && (flags & InitFlags.Passthrough) == 0)
        {
            Log.PassthroughUnavailable(session._logger, $"the kernel (FUSE 7.{init.Minor}) does not offer it");
        }
        else if ((flags & InitFlags.Passthrough) != 0 && Interop.Libc.GetEUid() != 0)
        {
            // FUSE_DEV_IOC_BACKING_OPEN requires CAP_SYS_ADMIN in the initial namespace.
            flags &= ~InitFlags.Passthrough;
            Log.PassthroughUnavailable(session._logger, "only root can open backing files");
        }

        var maxWrite = (uint)session._options.MaxWrite;
        ref var reply = ref exchange.Out<InitOut>();
        reply.Major = Abi.KernelMajor;
        reply.Minor = Math.Min(init.Minor, Abi.KernelMinor);
        reply.MaxReadahead = init.MaxReadahead;
        reply.Flags = (uint)flags;
        reply.Flags2 = (uint)((ulong)flags >> 32);
        // The kernel's defaults (12 background requests, congestion at 9) throttle readahead and
        // async writes on a fast file system; libfuse and go-fuse raise them similarly.
        reply.MaxBackground = 64;
        reply.CongestionThreshold = 48;
        reply.MaxWrite = maxWrite;
        reply.TimeGran = 1;
        reply.MaxPages = (ushort)Math.Min(ushort.MaxValue, (maxWrite + 4095) / 4096);
        if ((flags & InitFlags.Passthrough) != 0)
        {
            // Backing files are plain files, not themselves on a stacked (FUSE, overlay) file system.
            reply.MaxStackDepth = 1;
        }

        session.KernelMinor = init.Minor;
        session.ProtocolMinor = reply.Minor;
        session.Negotiated = flags;
        session.PassthroughEnabled = (flags & InitFlags.Passthrough) != 0;
        session._ready = true;
        Log.Initialized(session._logger, reply.Major, reply.Minor, init.Major, init.Minor, flags.ToString(), maxWrite);
        return Errno.Ok;
    }

    private static Errno OnDestroy(FuseSession session, ref Exchange exchange) => Errno.Ok;
}
