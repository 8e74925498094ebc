namespace LiteFs.Fuse;

/// <summary>What stat(2) reports about a node.</summary>
public struct FileAttributes
{
    /// <summary>
    /// The inode number shown to users. It also identifies the node: two lookups that report the
    /// same non-zero number are the same node (see <see cref="INodeLookup"/>). Zero means "use the
    /// node id".
    /// </summary>
    public ulong Ino { get; set; }

    /// <summary>Size in bytes.</summary>
    public ulong Size { get; set; }

    /// <summary>Allocated 512-byte blocks.</summary>
    public ulong Blocks { get; set; }

    /// <summary>Last access time.</summary>
    public Timespec ATime { get; set; }

    /// <summary>Last modification time.</summary>
    public Timespec MTime { get; set; }

    /// <summary>Last status change time.</summary>
    public Timespec CTime { get; set; }

    /// <summary>File type and permission bits (st_mode), e.g. <c>FileModes.Regular | 0o644</c>.</summary>
    public uint Mode { get; set; }

    /// <summary>Number of hard links.</summary>
    public uint NLink { get; set; }

    /// <summary>Owner user id.</summary>
    public uint Uid { get; set; }

    /// <summary>Owner group id.</summary>
    public uint Gid { get; set; }

    /// <summary>Device number for device files.</summary>
    public uint RDev { get; set; }

    /// <summary>Preferred I/O block size; 0 lets the kernel choose.</summary>
    public uint BlockSize { get; set; }

    /// <summary>True when <see cref="Mode"/> says directory.</summary>
    public readonly bool IsDirectory => (Mode & FileModes.TypeMask) == FileModes.Directory;
}

/// <summary>The file type bits of st_mode.</summary>
public static class FileModes
{
    /// <summary>S_IFMT: the bits that hold the type.</summary>
    public const uint TypeMask = 0xF000;

    /// <summary>S_IFREG: a regular file.</summary>
    public const uint Regular = 0x8000;

    /// <summary>S_IFDIR: a directory.</summary>
    public const uint Directory = 0x4000;

    /// <summary>S_IFLNK: a symbolic link.</summary>
    public const uint Symlink = 0xA000;

    /// <summary>The DT_* directory entry type for a mode (its type bits shifted down).</summary>
    public static uint ToDirentType(uint mode) => (mode & TypeMask) >> 12;
}

/// <summary>What statfs(2) reports about the file system.</summary>
public struct FileSystemStats
{
    /// <summary>Total blocks of <see cref="FragmentSize"/> bytes.</summary>
    public ulong Blocks { get; set; }

    /// <summary>Free blocks.</summary>
    public ulong BlocksFree { get; set; }

    /// <summary>Free blocks available to unprivileged users.</summary>
    public ulong BlocksAvailable { get; set; }

    /// <summary>Total inodes.</summary>
    public ulong Files { get; set; }

    /// <summary>Free inodes.</summary>
    public ulong FilesFree { get; set; }

    /// <summary>Preferred block size.</summary>
    public uint BlockSize { get; set; }

    /// <summary>Longest file name.</summary>
    public uint NameLength { get; set; }

    /// <summary>Fundamental block size.</summary>
    public uint FragmentSize { get; set; }
}

/// <summary>Which fields a setattr request changes.</summary>
[Flags]
public enum SetAttributesFields
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>Permission bits (chmod).</summary>
    Mode = 1 << 0,
    /// <summary>Owner (chown).</summary>
    Uid = 1 << 1,
    /// <summary>Group (chown).</summary>
    Gid = 1 << 2,
    /// <summary>Size (truncate).</summary>
    Size = 1 << 3,
    /// <summary>Access time, given in <see cref="SetAttributesRequest.ATime"/>.</summary>
    ATime = 1 << 4,
    /// <summary>Modification time, given in <see cref="SetAttributesRequest.MTime"/>.</summary>
    MTime = 1 << 5,
    /// <summary>Access time set to now.</summary>
    ATimeNow = 1 << 7,
    /// <summary>Modification time set to now.</summary>
    MTimeNow = 1 << 8,
    /// <summary>Status change time.</summary>
    CTime = 1 << 10,
}

/// <summary>A setattr request: chmod, chown, truncate, utimensat.</summary>
public readonly struct SetAttributesRequest
{
    /// <summary>Which of the other fields apply.</summary>
    public SetAttributesFields Fields { get; init; }

    /// <summary>New permission bits (with type bits as the kernel sent them).</summary>
    public uint Mode { get; init; }

    /// <summary>New owner.</summary>
    public uint Uid { get; init; }

    /// <summary>New group.</summary>
    public uint Gid { get; init; }

    /// <summary>New size.</summary>
    public ulong Size { get; init; }

    /// <summary>New access time.</summary>
    public Timespec ATime { get; init; }

    /// <summary>New modification time.</summary>
    public Timespec MTime { get; init; }

    /// <summary>New status change time.</summary>
    public Timespec CTime { get; init; }

    /// <summary>The open handle the change came through (ftruncate, futimens), if any.</summary>
    public IFileHandle? Handle { get; init; }

    /// <summary>The POSIX lock owner of the caller, when the kernel sent one.</summary>
    public ulong? LockOwner { get; init; }

    /// <summary>True when <paramref name="field"/> is among <see cref="Fields"/>.</summary>
    public bool Has(SetAttributesFields field) => (Fields & field) != 0;
}

/// <summary>Flags of renameat2(2).</summary>
[Flags]
public enum RenameFlags : uint
{
    /// <summary>Replace the target if it exists.</summary>
    None = 0,
    /// <summary>RENAME_NOREPLACE: fail with EEXIST if the target exists.</summary>
    NoReplace = 1,
    /// <summary>RENAME_EXCHANGE: atomically swap source and target.</summary>
    Exchange = 2,
    /// <summary>RENAME_WHITEOUT (overlay file systems).</summary>
    Whiteout = 4,
}
