using System.Net;
using System.Net.Sockets;

namespace ActorBroker.Testing;

/// <summary>Picks loopback TCP ports at runtime so parallel test runs never collide on a fixed port.</summary>
public static class FreePort
{
    // The OS may pick the same port again once its listener closed; a port is handed out once per test process, so
    // two nodes of one test never get the same one (seen: a Raft member list with an endpoint twice).
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// Returns a port that was free on 127.0.0.1 a moment ago (the OS picks it for a listener on port 0, which is then
    /// closed) and was not returned before in this process. Another process could still grab it before the caller binds;
    /// callers that start servers retry on "address in use".
    /// </summary>
    public static int Next()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (TryClaim(port)) return port;
        }
    }

    /// <summary>Claims a port chosen by other means (a port next to one from <see cref="Next"/>); false when handed out already.</summary>
    public static bool TryClaim(int port)
    {
        lock (HandedOut) return HandedOut.Add(port);
    }
}
