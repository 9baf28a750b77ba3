using System.Net;
using System.Net.Sockets;

namespace ActorBroker.Testing;

/// <summary>Picks loopback TCP ports at runtime so parallel test runs never collide on a fixed port.</summary>
public static class FreePort
{
    /// <summary>
    /// Returns a port that was free on 127.0.0.1 a moment ago (the OS picks it for a listener on port 0, which is then closed).
    /// Another process could still grab it before the caller binds; callers that start servers retry on "address in use".
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
