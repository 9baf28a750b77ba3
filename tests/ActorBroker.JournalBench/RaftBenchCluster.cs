using System.Diagnostics;
using ActorBroker.Persistence.Raft;
using ActorBroker.Testing;
using Akka.Configuration;

namespace ActorBroker.JournalBench;

/// <summary>
/// Three Raft replicas on free loopback ports for the "raft" backend: the third is the benchmark's actor system,
/// configured by <see cref="Node0Config"/>; the two peers are bare replicas in this process (default: one heap and
/// thread pool for all three) or, with <c>--raft-peers process</c>, processes of their own (the production shape: one
/// replica per node process; <see cref="RaftPeerProcess"/>), which also shows the journal's node's own CPU per event
/// apart from the peers'. Every write needs a majority commit.
/// <see cref="PlaceLeaderAsync"/> decides whether the journal's node leads (the production shape: the node keeps the
/// Raft leader where the cluster singleton runs) or follows (every write forwarded to the leader).
/// </summary>
internal sealed class RaftBenchCluster : IAsyncDisposable
{
    private readonly List<RaftReplica> _peers = [];
    private readonly List<ProcessHandle> _peerProcesses = [];

    public Config Node0Config { get; private set; } = Config.Empty;

    /// <summary>Processor time the peer processes used so far (zero with in-process peers: the process counts them).</summary>
    public TimeSpan PeerProcessorTime
        => _peerProcesses.Aggregate(TimeSpan.Zero, (sum, p) => sum + Process.GetProcessById(p.Pid).TotalProcessorTime);

    /// <param name="solo">No peers: a one-member Raft group (every write commits on the journal's own node), to tell
    /// what replication adds to the journal's own cost.</param>
    public static async Task<RaftBenchCluster> StartAsync(string directory, string syncMode, IEnumerable<string> settings, bool journalLeads, bool peersInProcess, bool solo = false, string? peerCpus = null)
    {
        var cluster = new RaftBenchCluster();
        var members = new LoopbackRaftMembers(directory, string.Join('\n', ["write-timeout = 60s", $"sync-mode = {syncMode}", .. settings]));
        try
        {
            foreach (var i in solo ? [] : new[] { 1, 2 })
            {
                if (peersInProcess)
                {
                    cluster._peers.Add(await RaftReplica.StartAsync(RaftJournalSettings.Create(ConfigurationFactory.ParseString(members.Section(i)))));
                    continue;
                }
                Directory.CreateDirectory(directory);
                var file = Path.Combine(directory, $"peer{i}.conf");
                await File.WriteAllTextAsync(file, members.Section(i));
                cluster._peerProcesses.Add(RaftPeerProcess.Start(file, standby: journalLeads, peerCpus));
            }
            foreach (var peer in cluster._peerProcesses)
            {
                try { await peer.WhenPrinted(RaftPeerProcess.Ready).WaitAsync(TimeSpan.FromSeconds(60)); }
                catch (TimeoutException) { throw new TimeoutException($"raft bench: peer {peer.Pid} did not start:\n{peer.Output}"); }
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        cluster.Node0Config = ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "actorbroker.persistence.raft.journal"
            akka.persistence.snapshot-store.plugin = "actorbroker.persistence.raft.snapshot-store"
            {{members.Section(0)}}
            {{(solo ? $"actorbroker.persistence.raft {{ members = [${{actorbroker.persistence.raft.self}}], forwarding-endpoints = [\"127.0.0.1:{FreePort.Next()}\"] }}" : "")}}
            """).WithFallback(RaftJournalConfig.Default);
        return cluster;
    }

    /// <summary>
    /// Makes the journal's replica (<paramref name="journal"/>) the leader, or a follower, using standby mode the way
    /// the node does (a standby member votes and replicates but never campaigns), and waits until that holds. Peer
    /// processes were started in the right mode (<see cref="StartAsync"/>); only the journal's replica is moved here.
    /// </summary>
    public async Task PlaceLeaderAsync(RaftReplica journal, bool journalLeads)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        if (_peers.Count == 0 && _peerProcesses.Count == 0) // solo: it elects itself
        {
            while (!journal.IsLeader)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("raft bench: the one-member group elected no leader");
                await Task.Delay(50);
            }
            return;
        }
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
            var placed = journalLeads ? journal.IsLeader : journal is { IsLeader: false, IsStandby: true };
            if (placed && others.All(o => o.IsStandby && !o.IsLeader) && journal.Leader is not null) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"raft bench: could not place the leader (journal leads: {journalLeads})");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var peer in _peers) await peer.DisposeAsync();
        foreach (var peer in _peerProcesses) await RaftPeerProcess.StopAsync(peer);
    }
}
