using LiteFs.Fuse.Interop;

namespace LiteFs.Fuse.Loopback;

internal sealed unsafe partial class LoopbackNode
{
    public Errno SetAttributes(FuseContext context, in SetAttributesRequest request, out FileAttributes attributes)
    {
        attributes = default;
        var handleFd = request.Handle is LoopbackFile file ? file.Fd : -1;
        Span<byte> procPath = stackalloc byte[32];
        fixed (byte* path = Libc.ProcSelfFd(_fd, procPath))
        {
            if (request.Has(SetAttributesFields.Mode) &&
                Libc.FChmodAt(Libc.AtFdCwd, path, request.Mode & 0xFFF, 0) != 0)
            {
                return (Errno)Libc.LastError;
            }
            if (request.Has(SetAttributesFields.Uid) || request.Has(SetAttributesFields.Gid))
            {
                var uid = request.Has(SetAttributesFields.Uid) ? request.Uid : uint.MaxValue;
                var gid = request.Has(SetAttributesFields.Gid) ? request.Gid : uint.MaxValue;
                if (Libc.FChownAt(_fd, EmptyPath, uid, gid, Libc.AtEmptyPath | Libc.AtSymlinkNoFollow) != 0)
                {
                    return (Errno)Libc.LastError;
                }
            }
            if (request.Has(SetAttributesFields.Size))
            {
                var result = handleFd >= 0
                    ? Libc.FTruncate(handleFd, (long)request.Size)
                    : Libc.Truncate(path, (long)request.Size);
                if (result != 0)
                {
                    return (Errno)Libc.LastError;
                }
            }
            if (request.Has(SetAttributesFields.ATime | SetAttributesFields.ATimeNow |
                            SetAttributesFields.MTime | SetAttributesFields.MTimeNow))
            {
                var times = new Timespec2
                {
                    ASeconds = request.ATime.Seconds,
                    ANanoseconds = request.Has(SetAttributesFields.ATimeNow) ? Libc.UtimeNow
                        : request.Has(SetAttributesFields.ATime) ? request.ATime.Nanoseconds : Libc.UtimeOmit,
                    MSeconds = request.MTime.Seconds,
                    MNanoseconds = request.Has(SetAttributesFields.MTimeNow) ? Libc.UtimeNow
                        : request.Has(SetAttributesFields.MTime) ? request.MTime.Nanoseconds : Libc.UtimeOmit,
                };
                var result = handleFd >= 0
                    ? Libc.FUtimens(handleFd, &times)
                    : Libc.UtimensAt(Libc.AtFdCwd, path, &times, 0);
                if (result != 0)
                {
                    return (Errno)Libc.LastError;
                }
            }
        }
        return Stat(handleFd >= 0 ? handleFd : _fd, out attributes);
    }
}
