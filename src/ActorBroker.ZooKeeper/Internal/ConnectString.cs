using System.Net;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>
/// A parsed ZooKeeper connect string "host1:port1,host2:port2[/chroot]". The chroot, when given, is
/// prefixed to every path sent and stripped from every path received, so an application (or a test)
/// can live in its own subtree.
/// </summary>
internal sealed record ConnectString(IReadOnlyList<DnsEndPoint> Servers, string Chroot)
{
    public const int DefaultPort = 2181;

    public static ConnectString Parse(string connectString)
    {
        if (string.IsNullOrWhiteSpace(connectString))
            throw new ArgumentException("A ZooKeeper connect string needs at least one host[:port]", nameof(connectString));

        var slash = connectString.IndexOf('/');
        var hostsPart = slash < 0 ? connectString : connectString[..slash];
        var chroot = slash < 0 ? "" : connectString[slash..].TrimEnd('/');
        var servers = new List<DnsEndPoint>();
        foreach (var entry in hostsPart.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = entry.LastIndexOf(':');
            var host = colon < 0 ? entry : entry[..colon];
            var port = DefaultPort;
            if (colon >= 0 && (!int.TryParse(entry[(colon + 1)..], out port) || port is <= 0 or > 65535))
                throw new ArgumentException($"Invalid port in ZooKeeper server [{entry}]", nameof(connectString));
            if (host.Length == 0)
                throw new ArgumentException($"Missing host in ZooKeeper server [{entry}]", nameof(connectString));
            servers.Add(new DnsEndPoint(host, port));
        }
        if (servers.Count == 0)
            throw new ArgumentException($"No server in ZooKeeper connect string [{connectString}]", nameof(connectString));
        return new ConnectString(servers, chroot);
    }

    /// <summary>The server-side path of an application path.</summary>
    public string ToServerPath(string path)
    {
        ValidatePath(path);
        if (Chroot.Length == 0) return path;
        return path == "/" ? Chroot : Chroot + path;
    }

    /// <summary>The application path of a server-side path.</summary>
    public string FromServerPath(string serverPath)
    {
        if (Chroot.Length == 0) return serverPath;
        if (serverPath == Chroot) return "/";
        return serverPath.StartsWith(Chroot + "/", StringComparison.Ordinal) ? serverPath[Chroot.Length..] : serverPath;
    }

    private static void ValidatePath(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/' || (path.Length > 1 && path[^1] == '/') || path.Contains("//"))
            throw new ArgumentException($"Invalid znode path [{path}]: absolute, no trailing or double slash", nameof(path));
    }
}
