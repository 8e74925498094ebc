using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace LiteFs.TestKit;

/// <summary>
/// A TCP proxy on 127.0.0.1 that injects network faults between two processes: it listens on a
/// free port and relays every accepted connection, in both directions, to a target port on
/// 127.0.0.1. A test can reset every connection (<see cref="Cut"/>), refuse connections
/// (<see cref="Partitioned"/>) or hold all bytes while keeping connections open
/// (<see cref="Stalled"/>). Dispose stops listening and resets everything still open.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private const int BufferSize = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Relay> _relays = new();
    private readonly object _gateLock = new();
    private readonly Task _acceptLoop;
    private TaskCompletionSource _flowing = NewGate(open: true);
    private volatile bool _partitioned;
    private long _nextId;
    private long _forwarded;
    private long _refused;
    private long _bytesToTarget;
    private long _bytesFromTarget;

    /// <summary>Starts listening on a free port of 127.0.0.1, relaying to 127.0.0.1:<paramref name="targetPort"/>.</summary>
    public FaultProxy(int targetPort)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetPort);
        TargetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The port the proxy listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>The port on 127.0.0.1 the proxy relays to.</summary>
    public int TargetPort { get; }

    /// <summary>The proxy's address as an HTTP base URL, <c>http://127.0.0.1:PORT</c>.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Connections open now (accepted, connected to the target and not yet closed).</summary>
    public int OpenConnections => _relays.Count;

    /// <summary>Connections relayed to the target since the proxy started.</summary>
    public long ForwardedConnections => Interlocked.Read(ref _forwarded);

    /// <summary>Connections accepted and closed at once because of a partition, or because the target refused them.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>Bytes relayed from clients to the target.</summary>
    public long BytesToTarget => Interlocked.Read(ref _bytesToTarget);

    /// <summary>Bytes relayed from the target back to clients.</summary>
    public long BytesFromTarget => Interlocked.Read(ref _bytesFromTarget);

    /// <summary>
    /// While true, new connections are accepted and reset at once, and setting it resets every
    /// open connection (as a network partition looks to both ends once TCP gives up).
    /// </summary>
    public bool Partitioned
    {
        get => _partitioned;
        set
        {
            _partitioned = value;
            if (value)
            {
                Cut();
            }
        }
    }

    /// <summary>
    /// While true, no byte is relayed in either direction (bytes already read are held and sent
    /// once it is false again), but connections stay open and new ones are accepted: a peer
    /// that stopped answering without closing anything.
    /// </summary>
    public bool Stalled
    {
        get
        {
            lock (_gateLock)
            {
                return !_flowing.Task.IsCompleted;
            }
        }
        set
        {
            lock (_gateLock)
            {
                if (value && _flowing.Task.IsCompleted)
                {
                    _flowing = NewGate(open: false);
                }
                else if (!value)
                {
                    _flowing.TrySetResult();
                }
            }
        }
    }

    /// <summary>Resets (TCP RST) both sides of every open connection now; new connections are relayed as usual.</summary>
    public void Cut()
    {
        foreach (var relay in _relays.Values)
        {
            relay.Abort();
        }
    }

    /// <summary>
    /// Stops relaying on every open connection for good, without closing it, while new
    /// connections relay normally: a peer that vanished (power loss, a dropped NAT entry) leaves
    /// a connection that neither delivers nor fails. Only a timeout of the endpoints ends it (or
    /// <see cref="Cut"/>, or disposing the proxy).
    /// </summary>
    public void Blackhole()
    {
        foreach (var relay in _relays.Values)
        {
            relay.Blackholed = true;
        }
    }

    /// <summary>
    /// Polls until at least <paramref name="count"/> connections are open; false when
    /// <paramref name="timeout"/> passes first.
    /// </summary>
    public bool WaitForOpenConnections(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (OpenConnections < count)
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            Thread.Sleep(20);
        }
        return true;
    }

    /// <summary>A one-line summary of the counters, for failure messages.</summary>
    public override string ToString() =>
        $"proxy 127.0.0.1:{Port} -> 127.0.0.1:{TargetPort}: open {OpenConnections}, forwarded {ForwardedConnections}, " +
        $"refused {RefusedConnections}, bytes to target {BytesToTarget}, from target {BytesFromTarget}, " +
        $"partitioned {Partitioned}, stalled {Stalled}";

    private static TaskCompletionSource NewGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
        {
            gate.SetResult();
        }
        return gate;
    }

    private Task WhileStalledAsync(CancellationToken token)
    {
        Task gate;
        lock (_gateLock)
        {
            gate = _flowing.Task;
        }
        return gate.IsCompleted ? Task.CompletedTask : gate.WaitAsync(token);
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (token.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            if (_partitioned)
            {
                Interlocked.Increment(ref _refused);
                Reset(client);
                continue;
            }
            _ = Task.Run(() => ConnectAsync(client, token), CancellationToken.None);
        }
    }

    private async Task ConnectAsync(Socket client, CancellationToken token)
    {
        var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await target.ConnectAsync(new IPEndPoint(IPAddress.Loopback, TargetPort), token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The target is down: the client sees the same refusal, as a reset.
            Interlocked.Increment(ref _refused);
            Reset(client);
            Reset(target);
            return;
        }
        if (_partitioned || token.IsCancellationRequested)
        {
            Interlocked.Increment(ref _refused);
            Reset(client);
            Reset(target);
            return;
        }
        client.NoDelay = true;
        var relay = new Relay(this, Interlocked.Increment(ref _nextId), client, target, token);
        _relays[relay.Id] = relay;
        Interlocked.Increment(ref _forwarded);
        // A partition or a cut that raced with the registration above must still reach this relay.
        if (_partitioned || token.IsCancellationRequested)
        {
            relay.Abort();
        }
        await relay.RunAsync().ConfigureAwait(false);
        _relays.TryRemove(relay.Id, out _);
    }

    /// <summary>Closes <paramref name="socket"/> with a TCP RST instead of an orderly FIN.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
        }
        socket.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        _stop.Cancel();
        _listener.Stop();
        Cut();
        _ = _acceptLoop.Wait(TimeSpan.FromSeconds(10));
        // Relays registered after the cut above see the cancelled token and abort themselves.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_relays.IsEmpty && DateTime.UtcNow < deadline)
        {
            Cut();
            Thread.Sleep(10);
        }
        lock (_gateLock)
        {
            _flowing.TrySetResult();
        }
        _stop.Dispose();
    }

    /// <summary>One relayed connection: a pump per direction; aborting resets both sockets.</summary>
    private sealed class Relay
    {
        private readonly FaultProxy _proxy;
        private readonly Socket _client;
        private readonly Socket _target;
        private readonly CancellationTokenSource _abort;
        private int _aborted;
        private volatile bool _blackholed;

        public Relay(FaultProxy proxy, long id, Socket client, Socket target, CancellationToken stop)
        {
            _proxy = proxy;
            Id = id;
            _client = client;
            _target = target;
            _abort = CancellationTokenSource.CreateLinkedTokenSource(stop);
        }

        public long Id { get; }

        public bool Blackholed
        {
            get => _blackholed;
            set => _blackholed = value;
        }

        public async Task RunAsync()
        {
            var up = PumpAsync(_client, _target, toTarget: true);
            var down = PumpAsync(_target, _client, toTarget: false);
            try
            {
                await Task.WhenAll(up, down).ConfigureAwait(false);
            }
            finally
            {
                _client.Dispose();
                _target.Dispose();
                _abort.Dispose();
            }
        }

        public void Abort()
        {
            if (Interlocked.Exchange(ref _aborted, 1) != 0)
            {
                return;
            }
            try
            {
                _abort.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
            Reset(_client);
            Reset(_target);
        }

        private async Task PumpAsync(Socket from, Socket to, bool toTarget)
        {
            var buffer = new byte[BufferSize];
            try
            {
                var token = _abort.Token;
                using var input = new NetworkStream(from, ownsSocket: false);
                using var output = new NetworkStream(to, ownsSocket: false);
                while (true)
                {
                    var read = await input.ReadAsync(buffer, token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        // Orderly close from this side: pass the FIN on, keep the other direction going.
                        to.Shutdown(SocketShutdown.Send);
                        return;
                    }
                    await _proxy.WhileStalledAsync(token).ConfigureAwait(false);
                    if (_blackholed)
                    {
                        await Task.Delay(Timeout.Infinite, token).ConfigureAwait(false);
                    }
                    // Counted before the write: whoever receives these bytes then sees them counted.
                    Interlocked.Add(ref toTarget ? ref _proxy._bytesToTarget : ref _proxy._bytesFromTarget, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // One side failed or was reset: the other must see the connection die too.
                Abort();
            }
        }
    }
}
