using System.Runtime.InteropServices;

namespace LiteFs.Fuse.Protocol;

// Blittable mirrors of linux/fuse.h (protocol 7.40), read from and written to the request and
// reply buffers with MemoryMarshal. Field order and sizes are the ABI: never reorder.
#pragma warning disable CS0649 // Fields are filled by MemoryMarshal from kernel bytes.

[StructLayout(LayoutKind.Sequential)]
internal struct InHeader
{
    public uint Len;
    public Opcode Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid;
    public uint Gid;
    public uint Pid;
    public ushort TotalExtLen;
    public ushort Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct OutHeader
{
    public uint Len;
    public int Error;
    public ulong Unique;
}

[StructLayout(LayoutKind.Sequential)]
internal struct Attr
{
    public ulong Ino;
    public ulong Size;
    public ulong Blocks;
    public ulong ATime;
    public ulong MTime;
    public ulong CTime;
    public uint ATimeNsec;
    public uint MTimeNsec;
    public uint CTimeNsec;
    public uint Mode;
    public uint NLink;
    public uint Uid;
    public uint Gid;
    public uint RDev;
    public uint BlkSize;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct EntryOut
{
    public ulong NodeId;
    public ulong Generation;
    public ulong EntryValid;
    public ulong AttrValid;
    public uint EntryValidNsec;
    public uint AttrValidNsec;
    public Attr Attr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct AttrOut
{
    public ulong AttrValid;
    public uint AttrValidNsec;
    public uint Dummy;
    public Attr Attr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ForgetIn
{
    public ulong NLookup;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ForgetOne
{
    public ulong NodeId;
    public ulong NLookup;
}

[StructLayout(LayoutKind.Sequential)]
internal struct BatchForgetIn
{
    public uint Count;
    public uint Dummy;
}

[StructLayout(LayoutKind.Sequential)]
internal struct GetAttrIn
{
    public uint GetAttrFlags;
    public uint Dummy;
    public ulong Fh;

    public const uint FlagFh = 1;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MkDirIn
{
    public uint Mode;
    public uint Umask;
}

[StructLayout(LayoutKind.Sequential)]
internal struct RenameIn
{
    public ulong NewDir;
}

[StructLayout(LayoutKind.Sequential)]
internal struct Rename2In
{
    public ulong NewDir;
    public uint Flags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct SetAttrIn
{
    public uint Valid;
    public uint Padding;
    public ulong Fh;
    public ulong Size;
    public ulong LockOwner;
    public ulong ATime;
    public ulong MTime;
    public ulong CTime;
    public uint ATimeNsec;
    public uint MTimeNsec;
    public uint CTimeNsec;
    public uint Mode;
    public uint Unused4;
    public uint Uid;
    public uint Gid;
    public uint Unused5;
}

[StructLayout(LayoutKind.Sequential)]
internal struct OpenIn
{
    public int Flags;
    public uint OpenFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CreateIn
{
    public int Flags;
    public uint Mode;
    public uint Umask;
    public uint OpenFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct OpenOut
{
    public ulong Fh;
    public OpenOutFlags OpenFlags;

    /// <summary>Protocol 7.40 (was padding): the id FUSE_DEV_IOC_BACKING_OPEN returned.</summary>
    public int BackingId;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ReleaseIn
{
    public ulong Fh;
    public int Flags;
    public uint ReleaseFlags;
    public ulong LockOwner;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FlushIn
{
    public ulong Fh;
    public uint Unused;
    public uint Padding;
    public ulong LockOwner;
}

[StructLayout(LayoutKind.Sequential)]
internal struct ReadIn
{
    public ulong Fh;
    public long Offset;
    public uint Size;
    public uint ReadFlags;
    public ulong LockOwner;
    public int Flags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct WriteIn
{
    public ulong Fh;
    public long Offset;
    public uint Size;
    public uint WriteFlags;
    public ulong LockOwner;
    public int Flags;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct WriteOut
{
    public uint Size;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct KStatFs
{
    public ulong Blocks;
    public ulong BFree;
    public ulong BAvail;
    public ulong Files;
    public ulong FFree;
    public uint BSize;
    public uint NameLen;
    public uint FrSize;
    public uint Padding;
    private unsafe fixed uint _spare[6];
}

[StructLayout(LayoutKind.Sequential)]
internal struct FsyncIn
{
    public ulong Fh;
    public uint FsyncFlags;
    public uint Padding;

    public const uint FlagDataSync = 1;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FileLockAbi
{
    public ulong Start;
    public ulong End;
    public uint Type;
    public uint Pid;
}

[StructLayout(LayoutKind.Sequential)]
internal struct LkIn
{
    public ulong Fh;
    public ulong Owner;
    public FileLockAbi Lk;
    public uint LkFlags;
    public uint Padding;

    public const uint FlagFlock = 1;
}

[StructLayout(LayoutKind.Sequential)]
internal struct AccessIn
{
    public int Mask;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct InitIn
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public uint Flags2;
}

[StructLayout(LayoutKind.Sequential)]
internal struct InitOut
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public ushort MaxBackground;
    public ushort CongestionThreshold;
    public uint MaxWrite;
    public uint TimeGran;
    public ushort MaxPages;
    public ushort MapAlignment;
    public uint Flags2;

    /// <summary>Protocol 7.40: how deep backing files may stack under this mount (passthrough).</summary>
    public uint MaxStackDepth;
    private unsafe fixed uint _unused[6];
}

[StructLayout(LayoutKind.Sequential)]
internal struct InterruptIn
{
    public ulong Unique;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FallocateIn
{
    public ulong Fh;
    public long Offset;
    public long Length;
    public int Mode;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct LSeekIn
{
    public ulong Fh;
    public long Offset;
    public int Whence;
    public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct LSeekOut
{
    public long Offset;
}

[StructLayout(LayoutKind.Sequential)]
internal struct Dirent
{
    public ulong Ino;
    public ulong Off;
    public uint NameLen;
    public uint Type;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NotifyInvalInodeOut
{
    public ulong Ino;
    public long Off;
    public long Len;
}

[StructLayout(LayoutKind.Sequential)]
internal struct NotifyInvalEntryOut
{
    public ulong Parent;
    public uint NameLen;
    public uint Flags;
}

/// <summary>struct fuse_backing_map (7.40), the argument of FUSE_DEV_IOC_BACKING_OPEN.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BackingMap
{
    public int Fd;
    public uint Flags;
    public ulong Padding;
}

/// <summary>Protocol constants that are not structures.</summary>
internal static class Abi
{
    public const uint KernelMajor = 7;

    /// <summary>The newest minor version whose structures this library knows (Linux 6.9).</summary>
    public const uint KernelMinor = 40;

    /// <summary>The oldest minor version we accept: 7.31 (Linux 5.4) brought everything we rely on.</summary>
    public const uint OldestMinor = 31;

    public const ulong RootId = 1;

    /// <summary>The kernel refuses reads into buffers smaller than this.</summary>
    public const int MinReadBuffer = 8192;

    public const int FAttrMode = 1 << 0;
    public const int FAttrUid = 1 << 1;
    public const int FAttrGid = 1 << 2;
    public const int FAttrSize = 1 << 3;
    public const int FAttrATime = 1 << 4;
    public const int FAttrMTime = 1 << 5;
    public const int FAttrFh = 1 << 6;
    public const int FAttrATimeNow = 1 << 7;
    public const int FAttrMTimeNow = 1 << 8;
    public const int FAttrLockOwner = 1 << 9;
    public const int FAttrCTime = 1 << 10;

    // _IOR(229, 0, uint32_t), _IOW(229, 1, struct fuse_backing_map), _IOW(229, 2, uint32_t).
    public const ulong DevIocClone = 0x8004E500;
    public const ulong DevIocBackingOpen = 0x4010E501;
    public const ulong DevIocBackingClose = 0x4004E502;
}
