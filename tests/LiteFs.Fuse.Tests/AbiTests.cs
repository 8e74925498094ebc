using System.Runtime.CompilerServices;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse.Tests;

/// <summary>The blittable mirrors have the sizes linux/fuse.h gives its structures.</summary>
public sealed class AbiTests
{
    [Fact]
    public void Structures_HaveKernelSizes()
    {
        Assert.Equal(40, Unsafe.SizeOf<InHeader>());
        Assert.Equal(16, Unsafe.SizeOf<OutHeader>());
        Assert.Equal(88, Unsafe.SizeOf<Attr>());
        Assert.Equal(128, Unsafe.SizeOf<EntryOut>());
        Assert.Equal(104, Unsafe.SizeOf<AttrOut>());
        Assert.Equal(88, Unsafe.SizeOf<SetAttrIn>());
        Assert.Equal(16, Unsafe.SizeOf<OpenOut>());
        Assert.Equal(40, Unsafe.SizeOf<ReadIn>());
        Assert.Equal(40, Unsafe.SizeOf<WriteIn>());
        Assert.Equal(80, Unsafe.SizeOf<KStatFs>());
        Assert.Equal(48, Unsafe.SizeOf<LkIn>());
        Assert.Equal(64, Unsafe.SizeOf<InitOut>());
        Assert.Equal(24, Unsafe.SizeOf<Dirent>());
        Assert.Equal(24, Unsafe.SizeOf<ReleaseIn>());
        Assert.Equal(32, Unsafe.SizeOf<FallocateIn>());
        Assert.Equal(16, Unsafe.SizeOf<BackingMap>());
        Assert.Equal(256, Unsafe.SizeOf<Interop.StatxBuffer>());
    }

    [Theory]
    [InlineData("36 35 98:0 /mnt1 /mnt/my\\040dir rw,noatime master:1 - fuse.litefs litefs rw", "/mnt/my dir", "fuse.litefs", "litefs")]
    [InlineData("22 1 0:21 / /proc rw - proc proc rw", "/proc", "proc", "proc")]
    public void MountInfo_ParsesEscapedFields(string line, string mountPoint, string type, string source)
    {
        var info = MountTable.Parse(line);
        Assert.NotNull(info);
        Assert.Equal((mountPoint, type, source), (info.MountPoint, info.FileSystemType, info.Source));
    }
}
