using LiteFs.Core;
using LiteFs.Fuse;
using LiteFs.Ltx;

namespace LiteFs.FileSystem.Tests;

/// <summary>The one mapping from node failures to the errno SQLite sees.</summary>
public class ErrorsTests
{
    [Theory]
    [InlineData(LiteFsError.Io, Errno.EIO)]
    [InlineData(LiteFsError.NotFound, Errno.ENOENT)]
    [InlineData(LiteFsError.Exists, Errno.EEXIST)]
    [InlineData(LiteFsError.ReadOnly, Errno.EACCES)]
    [InlineData(LiteFsError.Invalid, Errno.EINVAL)]
    [InlineData(LiteFsError.NotSupported, Errno.ENOSYS)]
    [InlineData(LiteFsError.WouldBlock, Errno.EAGAIN)]
    [InlineData(LiteFsError.NotPermitted, Errno.EPERM)]
    public void ToErrno_LiteFsError_MapsToErrno(LiteFsError error, Errno expected)
    {
        Assert.Equal(expected, Errors.ToErrno(new LiteFsException(error, "test")));
    }

    public static TheoryData<Exception, Errno> Exceptions => new()
    {
        { new ReadOnlyReplicaException("app.db"), Errno.EACCES },
        { new FatalDatabaseException("app.db: cannot commit"), Errno.EIO },
        { new PositionMismatchException("app.db", Pos.Zero, Pos.Zero), Errno.EIO },
        { new FileNotFoundException("gone"), Errno.ENOENT },
        { new DirectoryNotFoundException("gone"), Errno.ENOENT },
        { new LtxFormatException("bad"), Errno.EIO },
        { new IOException("disk full", 28), Errno.ENOSPC },
        { new IOException("other"), Errno.EIO },
        { new InvalidOperationException("bug"), Errno.EIO },
    };

    [Theory]
    [MemberData(nameof(Exceptions))]
    public void ToErrno_Exception_MapsToErrno(Exception exception, Errno expected)
    {
        Assert.Equal(expected, Errors.ToErrno(exception));
    }
}
