using Xunit;
using ActorBroker.Persistence.Raft.Internal;

namespace ActorBroker.MultiNode.Raft;

/// <summary>
/// The leader's pipelined group committer (several log entries replicating at once) on a real 3-node cluster: it must
/// keep every persistence id's write order, also for writes forwarded by a follower and across a leader change in
/// the middle of the pipeline. Rounds are kept tiny (3 operations) so a run has many of them in flight.
/// Writes are submitted the way the journal does for PersistAsync: one after the other without awaiting.
/// </summary>
[Collection(RaftCollection.Name)]
public sealed class RaftPipelineSpec
{
    private const string SmallRounds = """
        actorbroker.persistence.raft.max-batch-operations = 3
        actorbroker.persistence.raft.max-rounds-in-flight = 8
        """;

    private const int WritesPerId = 120;

    /// <summary>Submits seq 1..WritesPerId for every id, interleaved across ids, without awaiting in between.</summary>
    private static List<Task<OperationOutcome[]>> SubmitInterleaved(RaftTestNode node, IReadOnlyList<string> ids, int from, int to)
    {
        var submitted = new List<Task<OperationOutcome[]>>();
        for (var seq = from; seq <= to; seq++)
            foreach (var id in ids)
                submitted.Add(node.Replica!.SubmitAsync(
                    [new WriteEvents(Guid.NewGuid(), 0, id, [new StoredEvent(seq, BitConverter.GetBytes(seq))])]));
        return submitted;
    }

    private static async Task AssertInOrderEverywhereAsync(RaftTestCluster cluster, IEnumerable<string> ids)
    {
        await cluster.WaitUntilConvergedAsync();
        foreach (var node in cluster.Running)
        foreach (var id in ids)
        {
            var events = node.Replica!.StateMachine.ReadEvents(id, 1, long.MaxValue, long.MaxValue);
            Assert.Equal(Enumerable.Range(1, WritesPerId).Select(i => (long)i), events.Select(e => e.SequenceNr));
            Assert.All(events, e => Assert.Equal(e.SequenceNr, BitConverter.ToInt32(e.Bytes.Span)));
        }
    }

    [Fact(DisplayName = "Pipelined rounds keep every persistence id's write order, for writes on the leader and forwarded by a follower")]
    public async Task KeepsOrder()
    {
        await using var cluster = await RaftTestCluster.StartAsync(extraConfig: SmallRounds);
        var leader = await cluster.LeaderAsync();
        var follower = await cluster.RandomFollowerAsync();
        string[] onLeader = ["l-a", "l-b", "l-c", "l-d", "l-e"], onFollower = ["f-a", "f-b"];

        var submitted = SubmitInterleaved(leader, onLeader, 1, WritesPerId);
        submitted.AddRange(SubmitInterleaved(follower, onFollower, 1, WritesPerId));
        var outcomes = (await Task.WhenAll(submitted)).SelectMany(o => o).ToList();

        Assert.All(outcomes, o => Assert.Equal(OutcomeCode.Applied, o.Code)); // a reordered write would be a SequenceConflict
        Assert.True(outcomes.Select(o => o.LogIndex).Distinct().Count() > 50, "expected many rounds (log entries)");
        await AssertInOrderEverywhereAsync(cluster, onLeader.Concat(onFollower));
    }

    [Fact(DisplayName = "A leader change with rounds in flight: the failed rounds are retried in order, every write is applied once and in order")]
    public async Task RetriesInOrderAcrossLeaderChange()
    {
        await using var cluster = await RaftTestCluster.StartAsync(extraConfig: SmallRounds);
        var leader = await cluster.LeaderAsync();
        string[] ids = ["r-a", "r-b", "r-c", "r-d"];

        var submitted = SubmitInterleaved(leader, ids, 1, WritesPerId / 2);
        await leader.Replica!.ResignAsync(); // deposes the leader while its first rounds replicate
        submitted.AddRange(SubmitInterleaved(leader, ids, WritesPerId / 2 + 1, WritesPerId)); // now a follower: forwarded
        var outcomes = (await Task.WhenAll(submitted)).SelectMany(o => o).ToList();

        Assert.All(outcomes, o => Assert.Equal(OutcomeCode.Applied, o.Code));
        await AssertInOrderEverywhereAsync(cluster, ids);
    }
}
