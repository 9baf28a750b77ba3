using ActorBroker.Coordination;
using ActorBroker.Persistence.Raft;
using Akka.Coordination;
using Xunit;

namespace ActorBroker.MultiNode.Raft;

/// <summary>The Raft-leader lease on a 3-node in-process cluster: holder = Raft leader, epoch = Raft term.</summary>
[Collection(RaftCollection.Name)]
public sealed class RaftLeaderLeaseSpec
{
    private const string LeasePath = "actorbroker.persistence.raft.lease";

    private static Lease LeaseOn(RaftTestNode node)
        => LeaseProvider.Get(node.System!).GetLease("broker-singleton", LeasePath, node.ToString());

    [Fact(DisplayName = "Only the Raft leader acquires the Raft-leader lease, and its epoch (the Raft term) is published to FencingTokens")]
    public async Task OnlyLeaderAcquires()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();

        Assert.IsType<RaftLeaderLease>(LeaseOn(leader));
        Assert.True(await LeaseOn(leader).Acquire());
        Assert.True(LeaseOn(leader).CheckLease());
        Assert.Equal(leader.Replica!.Term, FencingTokens.Get(leader.System!).Current);
        Assert.True(FencingTokens.Get(leader.System!).Current > 0);

        foreach (var follower in cluster.Running.Where(n => n != leader))
        {
            Assert.False(await LeaseOn(follower).Acquire());
            Assert.False(LeaseOn(follower).CheckLease());
            Assert.Equal(0, FencingTokens.Get(follower.System!).Current);
        }
    }

    [Fact(DisplayName = "The lease holder's lost callback runs when it loses Raft leadership (its followers are gone, no quorum)")]
    public async Task LostWhenLeadershipLost()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        var lost = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lease = LeaseOn(leader);
        Assert.True(await lease.Acquire(e => lost.TrySetResult(e)));

        foreach (var follower in cluster.Running.Where(n => n != leader).ToList()) await cluster.KillAsync(follower);

        var cause = await lost.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<LeaseException>(cause);
        Assert.Contains("leadership", cause!.Message);
        Assert.False(lease.CheckLease());
        Assert.False(await lease.Acquire()); // alone it cannot lead again
    }

    [Fact(DisplayName = "After the leader is killed the new leader acquires the lease with a higher epoch")]
    public async Task NewLeaderHasHigherEpoch()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var first = await cluster.WaitOnLeaderAsync();
        Assert.True(await LeaseOn(first).Acquire());
        var firstEpoch = FencingTokens.Get(first.System!).Current;

        await cluster.KillAsync(first);
        var second = await cluster.WaitOnLeaderAsync();
        Assert.True(await LeaseOn(second).Acquire());
        Assert.True(FencingTokens.Get(second.System!).Current > firstEpoch,
            $"epoch {FencingTokens.Get(second.System!).Current} should exceed {firstEpoch}");
    }
}
