using System.Net;
using System.Net.Sockets;

namespace LiteFs.TestKit;

/// <summary>
/// Free TCP ports on 127.0.0.1 for processes a test starts (which must be told their port in a
/// config file, so cannot bind port 0 themselves). A port is never handed out twice by one test
/// process, so parallel tests do not collide with each other; the kernel only avoids reusing a
/// just-closed ephemeral port for a while, which makes the remaining race unlikely.
/// </summary>
public static class FreePort
{
    private static readonly HashSet<int> Handed = [];
    private static readonly object Lock = new();

    /// <summary>A port on 127.0.0.1 that was free a moment ago and was not returned before.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Probe();
            lock (Lock)
            {
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
        throw new InvalidOperationException("no free TCP port on 127.0.0.1 that was not handed out before (1000 attempts)");
    }

    /// <summary>Binds port 0 on 127.0.0.1, reads the port the kernel chose and closes the socket.</summary>
    private static int Probe()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
