namespace LiteFs.FileSystem;

/// <summary>The permission bits the mount reports (C# has no octal literals).</summary>
internal static class Permissions
{
    /// <summary>0444: read-only for everyone.</summary>
    public const uint ReadOnly = 0x124;

    /// <summary>0666: read-write for everyone.</summary>
    public const uint ReadWrite = 0x1B6;

    /// <summary>0555: a read-only directory.</summary>
    public const uint DirectoryReadOnly = 0x16D;

    /// <summary>0777: a writable directory.</summary>
    public const uint DirectoryReadWrite = 0x1FF;
}
