using ActorBroker.MultiNode.Harness;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>
/// Network partitions that keep TCP open (the throttler's blackhole): the split-brain resolver keeps the majority, the
/// side without the lease stops (or never starts) the broker manager, and at no instant do two nodes host it.
/// </summary>
[Collection(MultiNodeClusterCollection.Name)]
public sealed class PartitionSpec(ITestOutputHelper output)
{
    private static readonly string[] ThreeNodes = ["first", "second", "third"];

    [Fact(DisplayName = "A master cut off from the majority stops its broker manager and the majority starts one, never both at once")]
    public async Task MinorityMasterStops()
    {
        await using var cluster = new MultiNodeCluster("shared-file.conf", ThreeNodes, output);
        await cluster.StartAsync();
        Assert.Equal("first", cluster.Observer.CurrentHost?.Node);

        await cluster.PartitionAsync([cluster["first"]], [cluster["second"], cluster["third"]]);
        var next = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: "first");
        cluster.Log($"broker manager started on [{next.Node}]");

        Assert.Equal("second", next.Node);
        Assert.All(cluster.Observer.History.Where(i => i.Node == "first"), i => Assert.NotNull(i.Stopped));
        // The minority side downs itself (keep-majority) and its node shuts down.
        await MultiNodeCluster.AwaitConditionAsync(() => !cluster["first"].IsAlive, "the cut-off master to shut down");
        cluster.Observer.AssertNeverTwoHosts();
    }

    [Fact(DisplayName = "A standby cut off from a master in the majority never hosts the broker manager and the master keeps it")]
    public async Task MinorityStandbyNeverHosts()
    {
        await using var cluster = new MultiNodeCluster("shared-file.conf", ThreeNodes, output);
        await cluster.StartAsync();
        var master = cluster.Observer.CurrentHost!.Node;

        await cluster.PartitionAsync([cluster["third"]], [cluster["first"], cluster["second"]]);
        await MultiNodeCluster.AwaitConditionAsync(() => !cluster["third"].IsAlive, "the cut-off standby to down itself and shut down");
        await MultiNodeCluster.AwaitConditionAsync(
            () => cluster["first"].Cluster.State.Members.All(m => m.Address != cluster["third"].Address), "the majority to remove the standby");

        // Only the master's node ever hosted it (a lease hiccup on a starved machine may restart it there, never elsewhere).
        Assert.All(cluster.Observer.History, i => Assert.Equal(master, i.Node));
        Assert.Equal(master, cluster.Observer.CurrentHost?.Node);
        if (cluster.Observer.History.Count > 1)
            cluster.Log($"note: the master restarted its broker manager {cluster.Observer.History.Count - 1} time(s): {string.Join(", ", cluster.Observer.History)}");
    }
}
