using LiteFs.Cli.Config;
using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.Cli;

/// <summary>
/// What <c>litefs mount</c> checks before it starts anything (store, node API, mount), so a node
/// that cannot run stops at once with the cause and the fix: the FUSE library's own checks (the
/// device, fusermount3, allow_other, the mount point), then that the mount directory can be
/// created and the data directory written.
/// </summary>
internal static class StartupChecks
{
    public static void Run(LiteFsConfig config, MountOptions mountOptions)
    {
        try
        {
            FuseMount.CheckCanMount(config.Fuse.Dir, mountOptions);
        }
        catch (FuseMountException ex) when (ex.Errno == Errno.ENOTCONN && !mountOptions.DetachStaleMount)
        {
            throw new FuseMountException($"{ex.Message} Or start without -skip-unmount, which detaches it.", ex.Errno, ex);
        }
        if (!Directory.Exists(config.Fuse.Dir))
        {
            DirectoryAccess.Check(config.Fuse.Dir, "fuse.dir");
        }
        DirectoryAccess.Check(config.Data.Dir, "data.dir");
    }
}
