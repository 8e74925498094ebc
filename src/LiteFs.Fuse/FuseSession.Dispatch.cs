using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

/// <summary>One request being answered: its header and arguments, and the reply payload area.</summary>
internal unsafe ref struct Exchange
{
    public readonly ref readonly InHeader Header;
    public readonly ReadOnlySpan<byte> Args;
    public readonly Span<byte> Reply;
    public int ReplyLength;
    public bool NoReply;

    public Exchange(ref readonly InHeader header, ReadOnlySpan<byte> args, Span<byte> reply)
    {
        Header = ref header;
        Args = args;
        Reply = reply;
    }

    public readonly FuseContext Context => new(Header.Unique, Header.NodeId, Header.Uid, Header.Gid, Header.Pid);

    /// <summary>The fixed argument structure at the start of the arguments.</summary>
    public readonly ref readonly T Arg<T>()
        where T : unmanaged
    {
        if (Args.Length < sizeof(T))
        {
            ThrowHelper.ShortArguments(Header.Opcode, Args.Length, sizeof(T));
        }
        return ref MemoryMarshal.AsRef<T>(Args);
    }

    /// <summary>The NUL-terminated name starting <paramref name="offset"/> bytes into the arguments.</summary>
    public readonly FileName Name(int offset, out int next)
    {
        var rest = Args[offset..];
        var end = rest.IndexOf((byte)0);
        if (end < 0)
        {
            ThrowHelper.UnterminatedName(Header.Opcode);
        }
        next = offset + end + 1;
        return new FileName(rest[..(end + 1)]);
    }

    /// <summary>The reply structure, with the reply length set to its size.</summary>
    public ref T Out<T>()
        where T : unmanaged
    {
        ReplyLength = sizeof(T);
        var span = Reply[..sizeof(T)];
        span.Clear();
        return ref MemoryMarshal.AsRef<T>(span);
    }
}

internal sealed unsafe partial class FuseSession
{
    private static readonly delegate*<FuseSession, ref Exchange, Errno>[] Handlers = BuildHandlers();

    private static delegate*<FuseSession, ref Exchange, Errno>[] BuildHandlers()
    {
        var table = new delegate*<FuseSession, ref Exchange, Errno>[(int)Opcode.TableSize];
        table[(int)Opcode.Init] = &OnInit;
        table[(int)Opcode.Destroy] = &OnDestroy;
        table[(int)Opcode.Lookup] = &OnLookup;
        table[(int)Opcode.Forget] = &OnForget;
        table[(int)Opcode.BatchForget] = &OnBatchForget;
        table[(int)Opcode.GetAttr] = &OnGetAttr;
        table[(int)Opcode.SetAttr] = &OnSetAttr;
        table[(int)Opcode.MkDir] = &OnMkDir;
        table[(int)Opcode.Unlink] = &OnUnlink;
        table[(int)Opcode.RmDir] = &OnRmDir;
        table[(int)Opcode.Rename] = &OnRename;
        table[(int)Opcode.Rename2] = &OnRename2;
        table[(int)Opcode.StatFs] = &OnStatFs;
        table[(int)Opcode.Access] = &OnAccess;
        table[(int)Opcode.Open] = &OnOpen;
        table[(int)Opcode.Create] = &OnCreate;
        table[(int)Opcode.Read] = &OnRead;
        table[(int)Opcode.Write] = &OnWrite;
        table[(int)Opcode.Flush] = &OnFlush;
        table[(int)Opcode.Fsync] = &OnFsync;
        table[(int)Opcode.Release] = &OnRelease;
        table[(int)Opcode.Fallocate] = &OnFallocate;
        table[(int)Opcode.LSeek] = &OnLSeek;
        table[(int)Opcode.OpenDir] = &OnOpenDir;
        table[(int)Opcode.ReadDir] = &OnReadDir;
        table[(int)Opcode.ReadDirPlus] = &OnReadDirPlus;
        table[(int)Opcode.ReleaseDir] = &OnRelease;
        table[(int)Opcode.FsyncDir] = &OnFsync;
        table[(int)Opcode.GetLk] = &OnGetLk;
        table[(int)Opcode.SetLk] = &OnSetLk;
        table[(int)Opcode.SetLkW] = &OnSetLkW;
        table[(int)Opcode.Interrupt] = &OnInterrupt;
        return table;
    }

    private void Dispatch(Reader reader, int length)
    {
        if (length < InHeaderSize)
        {
            return;
        }
        ref readonly var header = ref MemoryMarshal.AsRef<InHeader>(reader.Request);
        var argsLength = Math.Max(0, Math.Min(length, (int)header.Len) - InHeaderSize - (header.TotalExtLen * 8));
        var exchange = new Exchange(in header, reader.Request.AsSpan(InHeaderSize, argsLength), reader.Reply.AsSpan(OutHeaderSize));
        var opcode = header.Opcode;
        if (_debug)
        {
            Log.Request(_logger, opcode.ToString(), header.Unique, header.NodeId, header.Uid, header.Pid, header.Len);
        }
        Errno errno;
        if (!_ready && opcode != Opcode.Init)
        {
            errno = Errno.EIO;
        }
        else if (_closing && !EndsSomething(opcode, ref exchange))
        {
            errno = Errno.ENOTCONN;
        }
        else if ((uint)opcode < (uint)Handlers.Length && Handlers[(int)opcode] != null)
        {
            try
            {
                errno = Handlers[(int)opcode](this, ref exchange);
            }
            catch (Exception exception)
            {
                errno = MapException(exception, opcode, header.Unique, header.NodeId);
                exchange.NoReply = opcode is Opcode.Forget or Opcode.BatchForget or Opcode.Interrupt;
            }
        }
        else
        {
            errno = Errno.ENOSYS;
        }
        if (exchange.NoReply)
        {
            return;
        }
        SendReply(reader, header.Unique, errno, exchange.ReplyLength);
        if (opcode == Opcode.Init && errno == Errno.Ok)
        {
            _initialized.TrySetResult();
        }
    }

    /// <summary>The requests still served once the session is closing (<see cref="Close"/>).</summary>
    private static bool EndsSomething(Opcode opcode, ref Exchange exchange) => opcode switch
    {
        Opcode.Forget or Opcode.BatchForget or Opcode.Release or Opcode.ReleaseDir or Opcode.Flush
            or Opcode.Interrupt or Opcode.Destroy => true,
        Opcode.SetLk or Opcode.SetLkW => exchange.Args.Length >= sizeof(LkIn) && (LockType)exchange.Arg<LkIn>().Lk.Type == LockType.Unlock,
        _ => false,
    };

    /// <summary>The one place an unexpected exception from file system code becomes an errno.</summary>
    private Errno MapException(Exception exception, Opcode opcode, ulong unique, ulong nodeId)
    {
        Errno errno;
        try
        {
            errno = _options.ExceptionMapper?.Invoke(exception) ?? (exception is FuseException fuse ? fuse.Errno : Errno.EIO);
        }
#pragma warning disable CA1031 // A mapper that throws must not kill the reader either.
        catch (Exception)
#pragma warning restore CA1031
        {
            errno = Errno.EIO;
        }
        if (errno == Errno.Ok)
        {
            errno = Errno.EIO;
        }
        Log.HandlerFailed(_logger, exception, opcode.ToString(), unique, nodeId, errno);
        return errno;
    }

    private NodeEntry NodeOf(ref Exchange exchange) =>
        Nodes.Get(exchange.Header.NodeId) ?? ThrowHelper.UnknownNode(exchange.Header.NodeId);

    /// <summary>The handle an fh names, or the node itself for a stateless open (fh 0).</summary>
    private IFileHandle? Target(ref Exchange exchange, ulong fh)
    {
        if (fh != 0 && Handles.TryGet(fh, out var entry))
        {
            return entry.Handle ?? entry.Node.Node as IFileHandle;
        }
        return fh == 0 ? Nodes.Get(exchange.Header.NodeId)?.Node as IFileHandle : null;
    }
}

/// <summary>Throw helpers that keep the hot methods small.</summary>
internal static class ThrowHelper
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void ShortArguments(Opcode opcode, int length, int expected) =>
        throw new InvalidDataException($"{opcode}: {length} argument bytes, expected at least {expected}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void UnterminatedName(Opcode opcode) =>
        throw new InvalidDataException($"{opcode}: a name without a NUL terminator.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static NodeEntry UnknownNode(ulong nodeId) =>
        throw new FuseException(Errno.ESTALE, $"node {nodeId} is not known (forgotten or never looked up).");
}
