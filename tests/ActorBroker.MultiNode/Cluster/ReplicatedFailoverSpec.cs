using System.Diagnostics;
using ActorBroker.MultiNode.Harness;
using ActorBroker.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>
/// The replicated profile (ZooKeeper lease + Raft-replicated journal) against a real ZooKeeper server (tickTime 500ms,
/// so the profile's 1.5 s sessions are granted): the broker manager moves to a standby after the master is killed.
/// </summary>
[Collection(MultiNodeClusterCollection.Name)]
public sealed class ReplicatedFailoverSpec(ITestOutputHelper output)
{
    [Fact(DisplayName = "With the ZooKeeper lease and the Raft journal the broker manager starts on a standby after the master is killed")]
    public async Task FailOverOnCrash()
    {
        await using var zooKeeper = ZooKeeperServer.Standalone();
        await zooKeeper.StartAsync();
        var extra = $"""
            actorbroker.node.zookeeper = "{zooKeeper.ConnectString}"
            actorbroker.coordination.zookeeper-lease.root-path = "{ZooKeeperServer.NewNamespace("failover")}"
            """;
        await using var cluster = new MultiNodeCluster("replicated.conf", ["first", "second", "third"], output, extra);
        await cluster.StartAsync();

        var killedAt = await cluster.KillAsync(cluster["first"]);
        var next = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: "first");
        cluster.Log($"FAILOVER replicated.conf: kill -> broker manager started on [{next.Node}]: {Stopwatch.GetElapsedTime(killedAt, next.Started).TotalMilliseconds:F0} ms");

        Assert.Equal("second", next.Node);
        cluster.Observer.AssertNeverTwoHosts();
    }
}
