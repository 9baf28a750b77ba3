using ActorBroker.Core;
using ActorBroker.Persistence.Raft;
using ActorBroker.Stomp;
using ActorBroker.Stomp.Transport;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Node;

/// <summary>
/// Wires one node: joins the cluster (itself, when no seed nodes are configured), runs the broker
/// manager as a lease-guarded cluster singleton, and opens the STOMP listener only while the
/// broker manager runs on this node (ActiveMQ semantics: a standby refuses clients). <see cref="FastDown"/> downs dead
/// members quickly so a standby takes over in about a second (timing: Node's reference.conf).
/// </summary>
public static class BrokerNode
{
    public const string SingletonManagerName = "broker";

    public static void Start(ActorSystem system, Config config, string profile, ILoggerFactory loggerFactory)
    {
        var log = loggerFactory.CreateLogger("ActorBroker.Node");
        var cluster = Cluster.Get(system);
        var brokerSettings = BrokerSettings.Create(config);
        var stompSettings = StompSettings.Create(config);
        var singletonSettings = ClusterSingletonManagerSettings.Create(system).WithSingletonName("manager");
        var fastDownSettings = FastDownSettings.Create(config);
        var selfDownSettings = SelfDownAfterPauseSettings.Create(config);

        log.LogInformation(
            "ActorBroker node starting: profile [{Profile}], data directory [{DataDir}], journal [{Journal}], snapshot store [{Snapshots}], lease [{Lease}], remoting [{Address}]",
            profile,
            config.GetString("actorbroker.node.data-dir"),
            JournalPlugin(config, "akka.persistence.journal.plugin"),
            JournalPlugin(config, "akka.persistence.snapshot-store.plugin"),
            string.IsNullOrEmpty(config.GetString("akka.cluster.singleton.use-lease")) ? "none" : config.GetString("akka.cluster.singleton.use-lease"),
            cluster.SelfAddress);

        StartRaftReplicaWhenUsed(system, config, log);
        system.ActorOf(RoleLogger.Props(log), "role-logger");
        if (fastDownSettings.Enabled)
            system.ActorOf(FastDown.Props(fastDownSettings), "fast-down");
        if (selfDownSettings.Enabled)
            system.ActorOf(SelfDownAfterPause.Props(selfDownSettings), "self-down-after-pause");
        system.ActorOf(StompListenerHost.Props(stompSettings, loggerFactory), "stomp-listener");
        system.ActorOf(
            ClusterSingletonManager.Props(BrokerManager.Props(brokerSettings), BrokerManager.TerminationMessage, singletonSettings),
            SingletonManagerName);

        if (config.GetStringList("akka.cluster.seed-nodes").Count == 0)
            cluster.Join(cluster.SelfAddress);

        cluster.RegisterOnMemberUp(() =>
        {
            log.LogInformation("Node {Address} is up in the cluster; standby until it holds the lease and hosts the broker manager (STOMP port closed until then)", cluster.SelfAddress);
            if (config.GetBoolean("actorbroker.node.warm-up-journal"))
                system.ActorOf(JournalWarmUp.Props(cluster.SelfAddress), "journal-warm-up");
        });
    }

    /// <summary>
    /// The Raft replica starts lazily on first use, and only the master uses the journal or the lease: a standby's
    /// replica would never start, so no majority would ever elect a leader. Every node of a replicated profile starts its
    /// replica here, at boot, so it votes and replicates while standing by.
    /// </summary>
    private static void StartRaftReplicaWhenUsed(ActorSystem system, Config config, ILogger log)
    {
        const string raftSection = "actorbroker.persistence.raft";
        var usesRaft = config.GetString("akka.persistence.journal.plugin").StartsWith(raftSection, StringComparison.Ordinal)
            || config.GetString("akka.cluster.singleton.use-lease").StartsWith(raftSection, StringComparison.Ordinal);
        if (!usesRaft) return;
        if (config.GetString("akka.cluster.singleton.use-lease").StartsWith(raftSection, StringComparison.Ordinal))
            system.ActorOf(RaftLeaderFollowsOldest.Props(RaftLeaderFollowsOldestSettings.Create(config)), RaftLeaderFollowsOldest.Name);
        RaftReplication.Get(system).Replica.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
                log.LogInformation("Raft replica {Self} started; members {Members}", t.Result.Settings.Self, string.Join(",", t.Result.Settings.Members));
            else
                log.LogError(t.Exception, "Raft replica failed to start: this node can neither replicate nor become master");
        }, TaskScheduler.Default);
    }

    private static string JournalPlugin(Config config, string key)
    {
        var plugin = config.GetString(key);
        if (string.IsNullOrEmpty(plugin)) return "none";
        var provider = config.GetString(plugin + ".provider-name");
        var cls = config.GetString(plugin + ".class");
        return string.IsNullOrEmpty(provider) ? $"{plugin} ({cls})" : $"{plugin} ({provider})";
    }
}
