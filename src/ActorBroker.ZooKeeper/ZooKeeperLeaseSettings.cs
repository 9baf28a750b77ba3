using ActorBroker.Coordination;
using ActorBroker.ZooKeeper.Internal;
using Akka.Configuration;
using Akka.Coordination;

namespace ActorBroker.ZooKeeper;

/// <summary>Settings of <see cref="ZooKeeperLease"/>, read once from its config section (see reference.conf).</summary>
public sealed class ZooKeeperLeaseSettings
{
    /// <summary>Default config path; <c>akka.cluster.singleton.use-lease</c> points here.</summary>
    public const string ConfigPath = "actorbroker.coordination.zookeeper-lease";

    private ZooKeeperLeaseSettings(string connectString, string rootPath, TimeSpan sessionTimeout, TimeSpan connectTimeout, LeaseTiming timing)
    {
        ConnectString = connectString;
        RootPath = rootPath;
        SessionTimeout = sessionTimeout;
        ConnectTimeout = connectTimeout;
        Timing = timing;
    }

    /// <summary>"host1:port1,host2:port2[/chroot]".</summary>
    public string ConnectString { get; }

    /// <summary>Persistent parent of every lease's znode.</summary>
    public string RootPath { get; }

    /// <summary>Session timeout requested from ZooKeeper; at least <see cref="LeaseTiming.HeartbeatTimeout"/>.</summary>
    public TimeSpan SessionTimeout { get; }

    /// <summary>How long establishing a session may take.</summary>
    public TimeSpan ConnectTimeout { get; }

    public LeaseTiming Timing { get; }

    /// <summary>Reads and validates the lease section; throws <see cref="ConfigurationException"/> naming the key.</summary>
    public static ZooKeeperLeaseSettings Create(LeaseSettings settings, string configPath = ConfigPath)
    {
        var config = settings.LeaseConfig.WithFallback(ZooKeeperConfig.Default.GetConfig(ConfigPath));
        var timing = LeaseTiming.Create(settings, configPath);

        var connectString = config.GetString("connect-string", "");
        if (string.IsNullOrWhiteSpace(connectString))
            throw new ConfigurationException($"[{configPath}.connect-string] is missing: name the ZooKeeper servers as host1:port1,host2:port2");
        try
        {
            Internal.ConnectString.Parse(connectString);
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"Invalid [{configPath}.connect-string] [{connectString}]: {e.Message}", e);
        }

        var rootPath = config.GetString("root-path", "");
        if (rootPath.Length < 2 || rootPath[0] != '/' || rootPath.EndsWith('/') || rootPath.Contains("//"))
            throw new ConfigurationException(
                $"Invalid [{configPath}.root-path] [{rootPath}]: an absolute znode path below the root, without trailing or double slash");

        var sessionTimeout = string.IsNullOrWhiteSpace(config.GetString("session-timeout", ""))
            ? timing.HeartbeatTimeout
            : config.GetTimeSpan("session-timeout");
        if (sessionTimeout < timing.HeartbeatTimeout)
            throw new ConfigurationException(
                $"[{configPath}.session-timeout] ({sessionTimeout.TotalMilliseconds} ms) must be >= [{configPath}.heartbeat-timeout] " +
                $"({timing.HeartbeatTimeout.TotalMilliseconds} ms): a shorter session could expire while the holder still trusts its hold");

        var connectTimeout = config.GetTimeSpan("connect-timeout", TimeSpan.FromSeconds(5));
        if (connectTimeout <= TimeSpan.Zero)
            throw new ConfigurationException($"[{configPath}.connect-timeout] must be positive, was [{connectTimeout}]");

        return new ZooKeeperLeaseSettings(connectString, rootPath, sessionTimeout, connectTimeout, timing);
    }

    public override string ToString() =>
        $"connect-string [{ConnectString}], root-path [{RootPath}], session {SessionTimeout.TotalMilliseconds} ms, {Timing}";
}
