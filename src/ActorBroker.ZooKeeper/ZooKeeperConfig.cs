using Akka.Configuration;

namespace ActorBroker.ZooKeeper;

/// <summary>The embedded reference.conf of this project (<c>actorbroker.coordination.zookeeper-lease</c>).</summary>
public static class ZooKeeperConfig
{
    public static Config Default { get; } =
        ConfigurationFactory.FromResource<ZooKeeperLease>("ActorBroker.ZooKeeper.reference.conf");
}
