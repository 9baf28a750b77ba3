using Akka.Configuration;

namespace ActorBroker.Node;

/// <summary>The node's own settings (<c>actorbroker.node</c>), read once and validated.</summary>
/// <param name="RestartWhenDowned">Whether the process starts a new actor system (a standby) after the cluster downed it.</param>
/// <param name="RestartDelay">Wait before that new actor system starts.</param>
public sealed record NodeSettings(
    string DataDirectory, string? SharedDirectory, TimeSpan ShutdownTimeout, bool RestartWhenDowned = false, TimeSpan RestartDelay = default)
{
    /// <summary>The actor system name; fixed so seed-node addresses can be derived from host:port alone.</summary>
    public const string SystemName = "actorbroker";

    public static NodeSettings Create(Config config)
    {
        var node = config.GetConfig("actorbroker.node")
            ?? throw new ConfigurationException("missing configuration section [actorbroker.node]");
        var dataDir = node.GetString("data-dir");
        if (string.IsNullOrWhiteSpace(dataDir))
            throw new ConfigurationException("[actorbroker.node.data-dir] must name a directory");
        var shutdown = node.GetTimeSpan("shutdown-timeout", TimeSpan.FromSeconds(15));
        if (shutdown <= TimeSpan.Zero)
            throw new ConfigurationException($"[actorbroker.node.shutdown-timeout] must be positive, was [{shutdown}]");
        var sharedDir = node.GetString("shared-dir");
        if (!string.IsNullOrWhiteSpace(sharedDir))
        {
            sharedDir = Path.GetFullPath(sharedDir);
            if (!Directory.Exists(sharedDir))
                throw new ConfigurationException(
                    $"[actorbroker.node.shared-dir] {sharedDir} does not exist: mount or create it first (a node never creates the shared directory, so a missing mount cannot turn into a private one)");
        }

        var restartDelay = node.GetTimeSpan("restart-when-downed.delay", TimeSpan.FromSeconds(1));
        if (restartDelay < TimeSpan.Zero)
            throw new ConfigurationException($"[actorbroker.node.restart-when-downed.delay] must not be negative, was [{restartDelay}]");

        return new NodeSettings(Path.GetFullPath(dataDir), string.IsNullOrWhiteSpace(sharedDir) ? null : sharedDir, shutdown,
            node.GetBoolean("restart-when-downed.enabled", false), restartDelay);
    }
}
