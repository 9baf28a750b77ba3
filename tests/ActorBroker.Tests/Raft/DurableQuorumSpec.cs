using ActorBroker.Persistence.Raft.Internal;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>The leader's count of followers that reported an index applied (quorum_disk acknowledgements).</summary>
public sealed class DurableQuorumSpec
{
    [Fact(DisplayName = "Durable quorum of 3 (leader is member 0) waits for one follower's report at or beyond the index")]
    public async Task WaitsForOneFollowerOfThree()
    {
        var quorum = new DurableQuorum(members: 3, selfIndex: 0);
        Assert.Equal(1, quorum.FollowersNeeded);
        var wait = quorum.WaitAsync(10, CancellationToken.None);
        quorum.Report(0, 99); // the leader's own slot does not count
        quorum.Report(1, 9);
        Assert.False(wait.IsCompleted);
        quorum.Report(2, 10);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(quorum.WaitAsync(10, CancellationToken.None).IsCompleted);
    }

    [Fact(DisplayName = "Durable quorum of 5 needs two followers; the latest report counts, so a wiped follower counts less")]
    public async Task LatestReportCounts()
    {
        var quorum = new DurableQuorum(members: 5, selfIndex: 2);
        Assert.Equal(2, quorum.FollowersNeeded);
        quorum.Report(0, 20);
        quorum.Report(0, 3); // wiped and rebuilt: it has less on disk now
        quorum.Report(1, 20);
        var wait = quorum.WaitAsync(20, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        quorum.Report(4, 25);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact(DisplayName = "Durable quorum of 1 needs no follower; a canceled wait ends canceled")]
    public async Task SingleNodeAndCancel()
    {
        Assert.True(new DurableQuorum(members: 1, selfIndex: 0).WaitAsync(5, CancellationToken.None).IsCompleted);
        var quorum = new DurableQuorum(members: 3, selfIndex: 1);
        using var cancel = new CancellationTokenSource();
        var wait = quorum.WaitAsync(7, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        quorum.Report(0, 7); // the canceled waiter is dropped, nothing throws
    }
}
