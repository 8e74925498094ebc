using LiteFs.Fuse.Protocol;

namespace LiteFs.Fuse;

internal sealed partial class FuseSession
{
    private const int MaxEarlyInterrupts = 256;

    private readonly Lock _interruptLock = new();
    private readonly Dictionary<ulong, CancellationTokenSource> _interruptible = [];
    private readonly HashSet<ulong> _earlyInterrupts = [];

    private static FileLock ToFileLock(in LkIn request) => new()
    {
        Owner = request.Owner,
        Pid = request.Lk.Pid,
        Start = request.Lk.Start,
        End = request.Lk.End,
        Type = (LockType)request.Lk.Type,
        IsFlock = (request.LkFlags & LkIn.FlagFlock) != 0,
    };

    private static Errno OnGetLk(FuseSession session, ref Exchange exchange)
    {
        ref readonly var request = ref exchange.Arg<LkIn>();
        if (session.Target(ref exchange, request.Fh) is not IHandleLocks handle)
        {
            return Errno.ENOSYS;
        }
        var errno = handle.GetLock(exchange.Context, ToFileLock(in request), out var conflict);
        if (errno != Errno.Ok)
        {
            return errno;
        }
        ref var reply = ref exchange.Out<FileLockAbi>();
        reply.Type = (uint)conflict.Type;
        if (conflict.Type != LockType.Unlock)
        {
            reply.Start = conflict.Start;
            reply.End = conflict.End;
            reply.Pid = conflict.Pid;
        }
        return Errno.Ok;
    }

    private static Errno OnSetLk(FuseSession session, ref Exchange exchange) => session.SetLock(ref exchange, wait: false);

    private static Errno OnSetLkW(FuseSession session, ref Exchange exchange) => session.SetLock(ref exchange, wait: true);

    private Errno SetLock(ref Exchange exchange, bool wait)
    {
        ref readonly var request = ref exchange.Arg<LkIn>();
        if (Target(ref exchange, request.Fh) is not IHandleLocks handle)
        {
            return Errno.ENOSYS;
        }
        var fileLock = ToFileLock(in request);
        var unique = exchange.Header.Unique;
        if (_debug)
        {
            Log.LockRequest(_logger, unique, fileLock.Type.ToString(), fileLock.Start, fileLock.End, fileLock.Owner);
        }
        if (!wait)
        {
            var immediate = handle.SetLock(exchange.Context, fileLock, wait: false, CancellationToken.None);
            if (immediate.IsCompleted)
            {
                return immediate.Result;
            }
            exchange.NoReply = true;
            _ = CompleteLater(unique, exchange.Header.NodeId, immediate, null);
            return Errno.Ok;
        }

        // A blocking lock must not hold a reader thread: with every reader waiting, the unlock
        // that would wake them could never be read. It completes later, and FUSE_INTERRUPT
        // (the caller got a signal) cancels it.
        var cancellation = new CancellationTokenSource();
        RegisterInterruptible(unique, cancellation);
        ValueTask<Errno> pending;
        try
        {
            pending = handle.SetLock(exchange.Context, fileLock, wait: true, cancellation.Token);
        }
        catch
        {
            UnregisterInterruptible(unique, cancellation);
            throw;
        }
        if (pending.IsCompleted)
        {
            UnregisterInterruptible(unique, cancellation);
            return pending.Result;
        }
        exchange.NoReply = true;
        _ = CompleteLater(unique, exchange.Header.NodeId, pending, cancellation);
        return Errno.Ok;
    }

    private async Task CompleteLater(ulong unique, ulong nodeId, ValueTask<Errno> pending, CancellationTokenSource? cancellation)
    {
        Errno errno;
        try
        {
            errno = await pending.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            errno = Errno.EINTR;
        }
#pragma warning disable CA1031 // Mapped to an errno in the one place that does it.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            errno = MapException(exception, Opcode.SetLkW, unique, nodeId);
        }
        finally
        {
            if (cancellation is not null)
            {
                UnregisterInterruptible(unique, cancellation);
            }
        }
        SendDeferredReply(unique, errno, default);
    }

    private void RegisterInterruptible(ulong unique, CancellationTokenSource cancellation)
    {
        lock (_interruptLock)
        {
            _interruptible[unique] = cancellation;
            if (_earlyInterrupts.Remove(unique))
            {
                cancellation.Cancel();
            }
        }
    }

    private void UnregisterInterruptible(ulong unique, CancellationTokenSource cancellation)
    {
        lock (_interruptLock)
        {
            _interruptible.Remove(unique);
            cancellation.Dispose();
        }
    }

    private static Errno OnInterrupt(FuseSession session, ref Exchange exchange)
    {
        exchange.NoReply = true;
        var target = exchange.Arg<InterruptIn>().Unique;
        lock (session._interruptLock)
        {
            if (session._interruptible.TryGetValue(target, out var cancellation))
            {
                cancellation.Cancel();
            }
            else
            {
                // Another reader may not have registered the request yet; remember the interrupt.
                // Requests that complete synchronously never register, so the set is bounded.
                if (session._earlyInterrupts.Count >= MaxEarlyInterrupts)
                {
                    session._earlyInterrupts.Clear();
                }
                session._earlyInterrupts.Add(target);
            }
        }
        return Errno.Ok;
    }
}
