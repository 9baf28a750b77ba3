using Xunit;
using ActorBroker.Persistence.Raft;
using ActorBroker.Persistence.Raft.Internal;
using Akka.Actor;

namespace ActorBroker.MultiNode.Raft;

/// <summary>
/// Scenarios of the Raft journal on a 3-node in-process cluster: replication, failover, catch-up, minority,
/// full restart, wiped node, and concurrent writers while the leader is killed. Every scenario starts its own
/// cluster in a fresh temp directory and asserts on replayed / applied state, never on timing.
/// </summary>
[Collection(RaftCollection.Name)]
public sealed class RaftJournalClusterSpec
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    private static async Task<string[]> AppendAllAsync(RaftTestNode node, string persistenceId, IEnumerable<string> events)
    {
        var actor = node.System!.ActorOf(EventLogActor.Props(persistenceId));
        try
        {
            var acked = new List<string>();
            foreach (var e in events)
                acked.Add((await actor.Ask<EventLogActor.Appended>(new EventLogActor.Append(e), AskTimeout)).Event);
            return acked.ToArray();
        }
        finally
        {
            node.System!.Stop(actor);
        }
    }

    /// <summary>
    /// Persists one event and asserts the actor stopped without acknowledging it (Akka stops a persistent actor whose
    /// recovery or persist failed).
    /// </summary>
    private static async Task AssertPersistFailsAsync(RaftTestNode node, string persistenceId, string e)
    {
        var actor = node.System!.ActorOf(EventLogActor.Props(persistenceId));
        var terminated = actor.WatchAsync();
        var reply = actor.Ask<EventLogActor.Appended>(new EventLogActor.Append(e), AskTimeout);
        Assert.Same(terminated, await Task.WhenAny(terminated, reply));
    }

    private static IEnumerable<string> Events(string prefix, int count) => Enumerable.Range(1, count).Select(i => $"{prefix}-{i}");

    [Fact(DisplayName = "Writes through the leader and through a follower replicate and replay identically on every node")]
    public async Task Writes_replicate_and_replay_identically()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        var follower = await cluster.RandomFollowerAsync();

        await AppendAllAsync(leader, "via-leader", Events("l", 15));
        await AppendAllAsync(follower, "via-follower", Events("f", 15));

        foreach (var node in cluster.Nodes)
        {
            Assert.Equal(Events("l", 15), await EventLog.ReplayAsync(node.System!, "via-leader", AskTimeout));
            Assert.Equal(Events("f", 15), await EventLog.ReplayAsync(node.System!, "via-follower", AskTimeout));
        }
        await cluster.WaitUntilConvergedAsync();
    }

    [Fact(DisplayName = "When the leader is killed a new leader is elected, writes continue and nothing committed is lost")]
    public async Task Leader_killed_new_leader_continues()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var oldLeader = await cluster.WaitOnLeaderAsync();
        await AppendAllAsync(oldLeader, "orders", Events("e", 10));

        await cluster.KillAsync(oldLeader);
        var newLeader = await cluster.WaitOnLeaderAsync();
        Assert.NotEqual(oldLeader, newLeader);

        var writer = cluster.Running.First(n => n != newLeader); // a follower: exercises forwarding to the new leader
        Assert.Equal(Events("e", 20).Skip(10), await AppendAllAsync(writer, "orders", Events("e", 20).Skip(10)));

        foreach (var node in cluster.Running)
            Assert.Equal(Events("e", 20), await EventLog.ReplayAsync(node.System!, "orders", AskTimeout));
    }

    [Fact(DisplayName = "A killed follower restarted later catches up on everything committed while it was down")]
    public async Task Follower_restarted_catches_up()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var follower = await cluster.RandomFollowerAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        await AppendAllAsync(leader, "acct", Events("a", 5));

        await cluster.KillAsync(follower);
        await AppendAllAsync(leader, "acct", Events("a", 15).Skip(5));
        await cluster.RestartAsync(follower);

        Assert.Equal(Events("a", 15), await EventLog.ReplayAsync(follower.System!, "acct", AskTimeout));
        await cluster.WaitUntilConvergedAsync();
    }

    [Fact(DisplayName = "A node alone (minority) cannot commit: its write fails with a timeout error naming the cause, and is never acknowledged")]
    public async Task Minority_cannot_commit()
    {
        await using var cluster = await RaftTestCluster.StartAsync(extraConfig: "actorbroker.persistence.raft { write-timeout = 3s, read-timeout = 3s }");
        var leader = await cluster.WaitOnLeaderAsync();
        var survivor = cluster.Running.First(n => n != leader);
        foreach (var node in cluster.Running.Where(n => n != survivor).ToList()) await cluster.KillAsync(node);

        var operation = new WriteEvents(Guid.NewGuid(), 0, "lonely", [new StoredEvent(1, new byte[] { 1, 2, 3 })]);
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<RaftJournalTimeoutException>(() => survivor.Replica!.SubmitAsync([operation]));
        Assert.Contains("not committed by a majority within", error.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), "the failure must come at the 3s write timeout, not hang");
        Assert.Equal(0, survivor.Replica!.StateMachine.HighestSequenceNr("lonely"));

        // and through Akka: the actor cannot pass the read barrier to recover, so nothing is ever acknowledged
        await AssertPersistFailsAsync(survivor, "lonely-actor", "x");
    }

    [Theory(DisplayName = "After every node was killed and restarted the cluster has the same state as before")]
    [InlineData(false)]
    [InlineData(true)] // compacted logs: each node restores its own snapshot (index plus the body files it kept)
    public async Task All_restarted_same_state(bool compacted)
    {
        await using var cluster = await RaftTestCluster.StartAsync(extraConfig: compacted ? "actorbroker.persistence.raft.snapshot-interval = 10" : "");
        var follower = await cluster.RandomFollowerAsync();
        var leaderEvents = compacted ? 60 : 7; // 60 entries: several state snapshots on every node
        await AppendAllAsync(follower, "p1", Events("x", 12));
        await AppendAllAsync(await cluster.LeaderAsync(), "p2", Events("y", leaderEvents));
        await cluster.WaitUntilConvergedAsync();
        var before = cluster.Nodes[0].Replica!.StateMachine.Digest();

        foreach (var node in cluster.Nodes) await cluster.KillAsync(node);
        await Task.WhenAll(cluster.Nodes.Select(cluster.RestartAsync));
        await cluster.WaitOnLeaderAsync();

        foreach (var node in cluster.Nodes)
        {
            if (compacted) Assert.True(node.Replica!.StateMachine.RestoredSnapshots > 0, "every node took snapshots before, so it restarts from its own");
            Assert.Equal(Events("x", 12), await EventLog.ReplayAsync(node.System!, "p1", AskTimeout));
            Assert.Equal(Events("y", leaderEvents), await EventLog.ReplayAsync(node.System!, "p2", AskTimeout));
        }
        await cluster.WaitUntilConvergedAsync();
        Assert.All(cluster.Nodes, node => Assert.Equal(before, node.Replica!.StateMachine.Digest()));
    }

    [Fact(DisplayName = "A wiped node re-added with an empty disk catches up (from the leader's snapshot once the log was compacted)")]
    public async Task Wiped_node_catches_up()
    {
        await using var cluster = await RaftTestCluster.StartAsync(extraConfig: "actorbroker.persistence.raft.snapshot-interval = 10");
        var follower = await cluster.RandomFollowerAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        await AppendAllAsync(leader, "big", Events("b", 60)); // 60 entries: several state snapshots on every node

        await cluster.KillAsync(follower);
        cluster.Wipe(follower);
        await cluster.RestartAsync(follower);

        Assert.Equal(Events("b", 60), await EventLog.ReplayAsync(follower.System!, "big", AskTimeout));
        await cluster.WaitUntilConvergedAsync();
        // the wiped node had no snapshot of its own at startup, so any restore is the leader's snapshot being installed
        Assert.True(follower.Replica!.StateMachine.RestoredSnapshots > 0, "the wiped node should have caught up through a snapshot install");
    }

    [Fact(DisplayName = "A stale master (older lease epoch) cannot write once a newer master wrote: its persist fails and replay shows only the new history")]
    public async Task Stale_master_is_fenced()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        await cluster.WaitOnLeaderAsync();
        var stale = cluster.Nodes[0];
        var current = cluster.Nodes[1];
        ActorBroker.Coordination.FencingTokens.Get(stale.System!).Advance(1);
        await AppendAllAsync(stale, "queue", Events("q", 3));

        ActorBroker.Coordination.FencingTokens.Get(current.System!).Advance(2); // takeover: a newer lease epoch
        Assert.Equal(Events("q", 3), await EventLog.ReplayAsync(current.System!, "queue", AskTimeout));
        await AppendAllAsync(current, "queue", ["q-4-new"]);

        // the stale master still runs its actor (it recovered q-1..3 earlier) and tries to continue
        await AssertPersistFailsAsync(stale, "queue", "q-4-stale");
        await AssertPersistFailsAsync(stale, "another-queue", "x"); // fencing is per master, not per queue

        string[] expected = [.. Events("q", 3), "q-4-new"];
        foreach (var node in cluster.Nodes)
            Assert.Equal(expected, await EventLog.ReplayAsync(node.System!, "queue", AskTimeout));
        Assert.Empty(await EventLog.ReplayAsync(current.System!, "another-queue", AskTimeout));
    }

    [Fact(DisplayName = "Concurrent writers while the leader is killed: every acknowledged write is present exactly once, in order, on every node")]
    public async Task Concurrent_writers_under_leader_kill()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        var writerNodes = cluster.Running.Where(n => n != leader).ToList(); // survive the kill
        using var stop = new CancellationTokenSource();
        var acked = new List<long>[8];

        async Task WriteLoop(int writer)
        {
            acked[writer] = [];
            var node = writerNodes[writer % writerNodes.Count];
            for (long seq = 1; !stop.IsCancellationRequested; seq++)
            {
                var op = new WriteEvents(Guid.NewGuid(), 0, $"writer-{writer}", [new StoredEvent(seq, BitConverter.GetBytes(seq))]);
                try
                {
                    var outcome = (await node.Replica!.SubmitAsync([op]))[0];
                    if (outcome.IsApplied) acked[writer].Add(seq);
                }
                catch (RaftJournalException)
                {
                    // unknown outcome: not acknowledged; the next write uses the next sequence number
                }
            }
        }

        var writers = Enumerable.Range(0, acked.Length).Select(w => Task.Run(() => WriteLoop(w))).ToArray();
        await WaitForAsync(() => acked.All(a => a is { Count: >= 5 }), "every writer acknowledged 5 writes");
        await cluster.KillAsync(leader);
        await cluster.WaitOnLeaderAsync();
        var countsAfterKill = acked.Select(a => a.Count).ToArray();
        await WaitForAsync(() => acked.Select((a, i) => a.Count >= countsAfterKill[i] + 5).All(x => x), "every writer acknowledged 5 more writes after the kill");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        await cluster.WaitUntilConvergedAsync();
        foreach (var node in cluster.Running)
        {
            await node.Replica!.ReadBarrierAsync();
            for (var w = 0; w < acked.Length; w++)
            {
                var stored = node.Replica.StateMachine.ReadEvents($"writer-{w}", 1, long.MaxValue, long.MaxValue).Select(e => e.SequenceNr).ToList();
                Assert.Equal(stored.Distinct().Count(), stored.Count);                  // exactly once
                Assert.Equal(stored.OrderBy(s => s), stored);                          // in order
                Assert.All(acked[w], seq => Assert.Contains(seq, stored));             // nothing acknowledged is lost
            }
        }
    }

    // A new leader learns the commit index of its predecessor's last entries only by committing an entry of its own
    // term; until then a read point taken from its commit index can miss writes the old leader acknowledged. This is
    // how a master recovering a queue right after the previous master (and Raft leader) died lost a receipted message.
    [Fact(DisplayName = "Right after the leader dies, a read on every survivor sees the writes the dead leader acknowledged")]
    public async Task Reads_after_leader_death_see_acknowledged_writes()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        for (var round = 1; round <= 6; round++)
        {
            var leader = await cluster.WaitOnLeaderAsync();
            var persistenceId = $"round-{round}";
            var write = new WriteEvents(Guid.NewGuid(), 0, persistenceId, [new StoredEvent(1, new byte[] { 1 })]);
            Assert.True((await leader.Replica!.SubmitAsync([write]))[0].IsApplied);
            await cluster.KillAsync(leader); // before a heartbeat tells the followers the entry is committed

            var survivors = cluster.Running.ToList();
            var highest = await Task.WhenAll(survivors.Select(async node =>
            {
                await node.Replica!.ReadBarrierAsync();
                return node.Replica.StateMachine.HighestSequenceNr(persistenceId);
            }));
            Assert.All(highest, h => Assert.Equal(1, h));
            await cluster.RestartAsync(leader);
        }
    }

    // DotNext commits an entry once a majority received it; its followers flush (then apply) later. quorum_disk (the
    // default) acknowledges only once a follower reported the entry applied, so a majority has it on disk.
    [Fact(DisplayName = "quorum_disk: when a write is acknowledged a majority of replicas has applied (so flushed) it, written on the leader and forwarded")]
    public async Task Quorum_disk_ack_means_a_majority_has_it()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        var follower = await cluster.RandomFollowerAsync();
        foreach (var (writer, name) in new[] { (leader, "leader"), (follower, "follower") })
        {
            for (var seq = 1; seq <= 15; seq++)
            {
                var write = new WriteEvents(Guid.NewGuid(), 0, $"durable-{name}", [new StoredEvent(seq, new byte[] { (byte)seq })]);
                var outcome = (await writer.Replica!.SubmitAsync([write]))[0];
                Assert.True(outcome.IsApplied);
                var holders = cluster.Running.Count(n => n.Replica!.StateMachine.LastAppliedIndex >= outcome.LogIndex);
                Assert.True(holders >= 2, $"write {seq} via the {name} acknowledged while only {holders} of 3 replicas applied index {outcome.LogIndex}");
            }
        }
    }

    // A new leader's first entry is a no-op without payload: the WAL applies it, the state machine never sees it. The
    // applied-index reporter once compared the state machine's index with the WAL's, so after every election a
    // follower spun through a wait that completed at once, burning a core until the next write.
    [Fact(DisplayName = "quorum_disk: an idle follower's applied-index reporter waits instead of spinning after an election")]
    public async Task Idle_follower_does_not_spin()
    {
        await using var cluster = await RaftTestCluster.StartAsync();
        var leader = await cluster.WaitOnLeaderAsync();
        await cluster.WaitUntilConvergedAsync();
        var followers = cluster.Running.Where(n => n != leader).ToList();
        var before = followers.Select(f => f.Replica!.ReportLoopTurns).ToList();
        var window = TimeSpan.FromSeconds(1); // nothing is written: the reporter wakes only on its 100 ms idle timeout
        await Task.Delay(window);
        for (var i = 0; i < followers.Count; i++)
        {
            var turns = followers[i].Replica!.ReportLoopTurns - before[i];
            Assert.True(turns < 100, $"{followers[i]}: the reporter turned {turns} times in {window.TotalSeconds} s with nothing to report");
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }
}
