using ActorBroker.Persistence.Raft;
using ActorBroker.Testing;
using Akka.Configuration;

namespace ActorBroker.JournalBench;

/// <summary>
/// Three Raft replicas on free loopback ports for the "raft" backend: two bare replicas started here, the third is
/// the benchmark's actor system, configured by <see cref="Node0Config"/>. Every write needs a majority commit.
/// <see cref="PlaceLeaderAsync"/> decides whether the journal's node leads (the production shape: the node keeps the
/// Raft leader where the cluster singleton runs) or follows (every write forwarded to the leader).
/// </summary>
internal sealed class RaftBenchCluster : IAsyncDisposable
{
    private readonly List<RaftReplica> _peers = [];

    public Config Node0Config { get; private set; } = Config.Empty;

    public static async Task<RaftBenchCluster> StartAsync(string directory, string syncMode)
    {
        var cluster = new RaftBenchCluster();
        var members = new LoopbackRaftMembers(directory, $"write-timeout = 60s\nsync-mode = {syncMode}");
        foreach (var i in new[] { 1, 2 })
            cluster._peers.Add(await RaftReplica.StartAsync(RaftJournalSettings.Create(ConfigurationFactory.ParseString(members.Section(i)))));
        cluster.Node0Config = ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "actorbroker.persistence.raft.journal"
            akka.persistence.snapshot-store.plugin = "actorbroker.persistence.raft.snapshot-store"
            {{members.Section(0)}}
            """).WithFallback(RaftJournalConfig.Default);
        return cluster;
    }

    /// <summary>
    /// Makes the journal's replica (<paramref name="journal"/>) the leader, or a follower, using standby mode the way
    /// the node does (a standby member votes and replicates but never campaigns), and waits until that holds.
    /// </summary>
    public async Task PlaceLeaderAsync(RaftReplica journal, bool journalLeads)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var candidates = journalLeads ? [journal] : _peers;
        var others = journalLeads ? _peers : [journal];
        while (true)
        {
            foreach (var c in candidates)
                if (c.IsStandby) await c.SetStandbyAsync(false);
            foreach (var o in others)
            {
                if (o.IsLeader) await o.ResignAsync();
                if (!o.IsStandby) await o.SetStandbyAsync(true);
            }
            if (candidates.Any(c => c.IsLeader) && others.All(o => o.IsStandby && !o.IsLeader) && journal.Leader is not null) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"raft bench: could not place the leader (journal leads: {journalLeads})");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var peer in _peers) await peer.DisposeAsync();
    }
}
