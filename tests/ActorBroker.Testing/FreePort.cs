using System.Net;
using System.Net.Sockets;

namespace ActorBroker.Testing;

/// <summary>Picks loopback TCP ports at runtime so parallel test runs never collide on a fixed port.</summary>
public static class FreePort
{
    // The OS may pick the same port again once its listener closed; a port is handed out once per test process, so
    // two nodes of one test never get the same one (seen: a Raft member list with an endpoint twice). Only ports handed
    // to a caller are recorded, so failed attempts never use the range up.
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// Returns a port that was free on 127.0.0.1 a moment ago (the OS picks it for a listener on port 0, which is then
    /// closed) and was not returned before in this process. Another process could still grab it before the caller binds;
    /// callers that start servers retry on "address in use".
    /// </summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
                if (HandedOut.Add(port)) return port;
        }

        throw new InvalidOperationException("the OS kept offering loopback ports this process already handed out");
    }

    /// <summary>
    /// A free port whose successor is free too (a Raft node listens on its port, its write forwarding on the next one).
    /// Drawn below Linux's ephemeral range (32768+): there, port + 1 of an OS-picked port is often the local end of an
    /// outgoing connection (the kernel gives connect() and bind(0) ports of opposite parity), so binding it fails.
    /// </summary>
    public static int NextPair()
    {
        for (var attempt = 0; attempt < 500; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            if (!CanBind(port) || !CanBind(port + 1)) continue;
            lock (HandedOut)
            {
                if (HandedOut.Contains(port) || HandedOut.Contains(port + 1)) continue;
                HandedOut.Add(port);
                HandedOut.Add(port + 1);
                return port;
            }
        }

        throw new InvalidOperationException("no two consecutive free loopback ports found in 20000-32000");
    }

    private static bool CanBind(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
