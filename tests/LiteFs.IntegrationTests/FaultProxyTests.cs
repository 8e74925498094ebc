using System.Net;
using System.Net.Sockets;
using System.Text;
using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>The fault-injecting proxy, for real on loopback, in front of a small echo server.</summary>
public sealed class FaultProxyTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly EchoServer _echo = new();
    private readonly FaultProxy _proxy;

    public FaultProxyTests()
    {
        _proxy = new FaultProxy(_echo.Port);
    }

    public void Dispose()
    {
        _proxy.Dispose();
        _echo.Dispose();
    }

    [Fact]
    public void Connection_Normal_RelaysBothDirectionsAndCounts()
    {
        Assert.Equal($"http://127.0.0.1:{_proxy.Port}", _proxy.Url);
        using var client = Connect();
        Assert.Equal("hello", Echo(client, "hello"));
        var big = new string('x', 300_000);
        Assert.Equal(big, Echo(client, big));
        Assert.True(_proxy.WaitForOpenConnections(1, Patience), _proxy.ToString());
        Assert.Equal(1, _proxy.OpenConnections);
        Assert.Equal(1, _proxy.ForwardedConnections);
        Assert.Equal(300_005, _proxy.BytesToTarget);
        Assert.Equal(300_005, _proxy.BytesFromTarget);
    }

    [Fact]
    public void Connection_ClientCloses_ProxyClosesItsSideToo()
    {
        using (var client = Connect())
        {
            Assert.Equal("a", Echo(client, "a"));
        }
        WaitUntil(() => _proxy.OpenConnections == 0 && _echo.OpenConnections == 0, "the closed connection to go away");
    }

    [Fact]
    public void Cut_OpenConnections_ResetsThemAndLaterConnectionsWork()
    {
        using var first = Connect();
        using var second = Connect();
        Assert.Equal("1", Echo(first, "1"));
        Assert.Equal("2", Echo(second, "2"));

        _proxy.Cut();

        AssertDead(first);
        AssertDead(second);
        WaitUntil(() => _proxy.OpenConnections == 0 && _echo.OpenConnections == 0, "both sides of the cut connections to close");
        using var third = Connect();
        Assert.Equal("3", Echo(third, "3"));
    }

    [Fact]
    public void Stalled_WhileTrue_HoldsBytesButKeepsConnectionOpen()
    {
        using var client = Connect();
        Assert.Equal("before", Echo(client, "before"));
        var toTarget = _proxy.BytesToTarget;

        _proxy.Stalled = true;
        Assert.True(_proxy.Stalled);
        Send(client, "held");
        // Nothing may come back while stalled; a short window is the only way to observe absence.
        client.ReceiveTimeout = 500;
        var buffer = new byte[16];
        var error = Assert.Throws<SocketException>(() => client.Receive(buffer));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Equal(toTarget, _proxy.BytesToTarget);
        Assert.Equal(1, _proxy.OpenConnections);
        // A connection made during the stall is accepted, and stalled as well.
        using var during = Connect();
        Send(during, "late");

        _proxy.Stalled = false;

        Assert.False(_proxy.Stalled);
        Assert.Equal("held", Receive(client, 4));
        Assert.Equal("late", Receive(during, 4));
        Assert.Equal("after", Echo(client, "after"));
    }

    [Fact]
    public void Blackhole_OpenConnections_GoSilentForGoodWhileNewOnesWork()
    {
        using var old = Connect();
        Assert.Equal("old", Echo(old, "old"));

        _proxy.Blackhole();

        Send(old, "lost");
        old.ReceiveTimeout = 500;
        var error = Assert.Throws<SocketException>(() => old.Receive(new byte[16]));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        using var fresh = Connect();
        Assert.Equal("new", Echo(fresh, "new"));
        Assert.Equal(2, _proxy.OpenConnections);
        _proxy.Cut();
        AssertDead(old);
    }

    [Fact]
    public void Partitioned_WhileTrue_CutsOpenConnectionsAndRefusesNewOnes()
    {
        using var open = Connect();
        Assert.Equal("x", Echo(open, "x"));

        _proxy.Partitioned = true;

        AssertDead(open);
        for (var i = 0; i < 3; i++)
        {
            using var refused = Connect();
            AssertDead(refused);
        }
        Assert.True(_proxy.RefusedConnections >= 3, _proxy.ToString());
        Assert.Equal(1, _proxy.ForwardedConnections);
        WaitUntil(() => _echo.OpenConnections == 0, "the target side of the partitioned connection to close");

        _proxy.Partitioned = false;

        using var healed = Connect();
        Assert.Equal("y", Echo(healed, "y"));
        Assert.Equal(2, _proxy.ForwardedConnections);
    }

    [Fact]
    public void Target_Down_ClientConnectionIsClosed()
    {
        using var nowhere = new FaultProxy(FreePort.Next());
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(IPAddress.Loopback, nowhere.Port);
        AssertDead(client);
        Assert.Equal(1, nowhere.RefusedConnections);
        Assert.Equal(0, nowhere.ForwardedConnections);
    }

    [Fact]
    public void Dispose_OpenConnections_ClosesThemAndStopsListening()
    {
        using var client = Connect();
        Assert.Equal("z", Echo(client, "z"));

        _proxy.Dispose();

        AssertDead(client);
        using var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var error = Assert.Throws<SocketException>(() => late.Connect(IPAddress.Loopback, _proxy.Port));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact]
    public void FreePort_ManyCalls_NeverRepeatsAndIsBindable()
    {
        var ports = Enumerable.Range(0, 50).Select(_ => FreePort.Next()).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        using var listener = new TcpListener(IPAddress.Loopback, ports[^1]);
        listener.Start();
        listener.Stop();
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(IPAddress.Loopback, _proxy.Port);
        return socket;
    }

    private static void Send(Socket socket, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
        }
    }

    private static string Receive(Socket socket, int count)
    {
        socket.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        var buffer = new byte[count];
        var received = 0;
        while (received < count)
        {
            var n = socket.Receive(buffer, received, count - received, SocketFlags.None);
            Assert.True(n > 0, $"connection closed after {received} of {count} bytes");
            received += n;
        }
        return Encoding.ASCII.GetString(buffer);
    }

    private static string Echo(Socket socket, string text)
    {
        // Send and receive concurrently: a large message would otherwise fill every buffer on the way.
        var sender = Task.Run(() => Send(socket, text));
        var echoed = Receive(socket, text.Length);
        sender.Wait(Patience);
        return echoed;
    }

    /// <summary>The connection is closed or reset: a read ends (0 bytes or an error) within the patience.</summary>
    private static void AssertDead(Socket socket)
    {
        socket.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        var buffer = new byte[64];
        try
        {
            while (true)
            {
                var n = socket.Receive(buffer);
                if (n == 0)
                {
                    return;
                }
            }
        }
        catch (SocketException ex)
        {
            Assert.True(ex.SocketErrorCode != SocketError.TimedOut, "the connection stayed open");
        }
    }

    private void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; {_proxy}; echo server open {_echo.OpenConnections}");
            Thread.Sleep(20);
        }
    }

    /// <summary>A loopback echo server: every connection gets back what it sends, until it closes.</summary>
    private sealed class EchoServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _open;

        public EchoServer()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _loop = Task.Run(AcceptAsync);
        }

        public int Port { get; }

        public int OpenConnections => Volatile.Read(ref _open);

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }
                _ = Task.Run(() => ServeAsync(socket));
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            Interlocked.Increment(ref _open);
            try
            {
                using var stream = new NetworkStream(socket, ownsSocket: true);
                var buffer = new byte[8192];
                while (true)
                {
                    var n = await stream.ReadAsync(buffer, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }
                    await stream.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _loop.Wait(TimeSpan.FromSeconds(10));
            _stop.Dispose();
        }
    }
}
