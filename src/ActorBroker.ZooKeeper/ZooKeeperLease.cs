using ActorBroker.Coordination;
using ActorBroker.Coordination.Internal;
using ActorBroker.ZooKeeper.Internal;
using Akka.Actor;
using Akka.Coordination;
using Akka.Event;

namespace ActorBroker.ZooKeeper;

/// <summary>
/// A lease held while the ephemeral znode <c>&lt;root-path&gt;/&lt;lease name&gt;/lock</c> of this node's ZooKeeper
/// session exists — the successor of ActiveMQ's ZooKeeper master election. Epoch = the lock znode's czxid.
/// Driven by the shared lease state machine (<see cref="StoreLease{TVersion}"/>) over <see cref="ZooKeeperLeaseStore"/>.
/// Config: <c>actorbroker.coordination.zookeeper-lease</c> (add <see cref="ZooKeeperConfig.Default"/> as a fallback).
/// </summary>
public sealed class ZooKeeperLease : StoreLease<int>
{
    public ZooKeeperLease(LeaseSettings settings, ExtendedActorSystem system)
        : this(settings, system, ZooKeeperLeaseSettings.Create(settings))
    {
    }

    private ZooKeeperLease(LeaseSettings settings, ExtendedActorSystem system, ZooKeeperLeaseSettings zooKeeperSettings)
        : this(settings, system, zooKeeperSettings, new ZooKeeperLeaseStore(
            zooKeeperSettings, settings.LeaseName, settings.OwnerName, Incarnations.New(),
            Logging.GetLogger(system, $"ZooKeeperLease({settings.LeaseName})")))
    {
    }

    private ZooKeeperLease(LeaseSettings settings, ExtendedActorSystem system, ZooKeeperLeaseSettings zooKeeperSettings, ZooKeeperLeaseStore store)
        : base(settings, system, store, zooKeeperSettings.Timing)
    {
        ZooKeeperSettings = zooKeeperSettings;
        Store = store;
        // A terminated system stops heart-beating: drop its session like a crash (see ZooKeeperLeaseStore.AbandonAsync).
        system.RegisterOnTermination(() => store.AbandonAsync().AsTask().Wait(TimeSpan.FromSeconds(5)));
    }

    public ZooKeeperLeaseSettings ZooKeeperSettings { get; }

    internal ZooKeeperLeaseStore Store { get; }
}
