using System.Net;
using ActorBroker.Persistence.Raft;
using ActorBroker.Testing;
using Akka.Actor;
using Akka.Configuration;

namespace ActorBroker.MultiNode.Raft;

/// <summary>
/// Three (or more) in-process Raft journal nodes, each its own ActorSystem with its own Raft and forwarding
/// endpoints (free loopback ports) and its own data directory under one temp directory. Failure injection:
/// <see cref="KillAsync"/> stops a node's Raft node and actor system (its disk state stays), <see cref="RestartAsync"/>
/// starts it again on the same ports and directory, <see cref="Wipe"/> deletes its directory in between.
/// </summary>
public sealed class RaftTestCluster : IAsyncDisposable
{
    private readonly TempDirectory _root = new("raft-cluster");
    private readonly string _extraConfig;

    private RaftTestCluster(int size, string extraConfig)
    {
        _extraConfig = extraConfig;
        var ports = new HashSet<int>();
        while (ports.Count < size * 2) ports.Add(FreePort.Next());
        var list = ports.ToList();
        Nodes = Enumerable.Range(0, size)
            .Select(i => new RaftTestNode(i, new IPEndPoint(IPAddress.Loopback, list[2 * i]),
                new IPEndPoint(IPAddress.Loopback, list[2 * i + 1]), _root.Combine($"node{i}")))
            .ToList();
    }

    public IReadOnlyList<RaftTestNode> Nodes { get; }

    public IEnumerable<RaftTestNode> Running => Nodes.Where(n => n.IsRunning);

    /// <summary>Default timeouts sized for a loaded 2-core machine; <paramref name="extraConfig"/> overrides them.</summary>
    public static async Task<RaftTestCluster> StartAsync(int size = 3, string extraConfig = "")
    {
        var cluster = new RaftTestCluster(size, extraConfig);
        try
        {
            await Task.WhenAll(cluster.Nodes.Select(cluster.RestartAsync));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private Config ConfigFor(RaftTestNode node)
    {
        static string List(IEnumerable<IPEndPoint> endpoints) => string.Join(", ", endpoints.Select(e => $"\"{e}\""));
        // extraConfig first: a scenario's overrides win over the defaults below
        return ConfigurationFactory.ParseString(_extraConfig).WithFallback(ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.persistence.journal.plugin = "actorbroker.persistence.raft.journal"
            akka.persistence.snapshot-store.plugin = "actorbroker.persistence.raft.snapshot-store"
            actorbroker.persistence.raft {
              members = [{{List(Nodes.Select(n => n.RaftEndpoint))}}]
              forwarding-endpoints = [{{List(Nodes.Select(n => n.ForwardingEndpoint))}}]
              self = "{{node.RaftEndpoint}}"
              data-dir = "{{node.DataDirectory.Replace("\\", "/")}}"
              lower-election-timeout = 500ms
              upper-election-timeout = 1000ms
              request-timeout = 300ms
              write-timeout = 15s
              read-timeout = 15s
            }
            """))
            .WithFallback(RaftJournalConfig.Default);
    }

    /// <summary>Starts (or restarts) the node on its ports and data directory and waits for its Raft node to run.</summary>
    public async Task RestartAsync(RaftTestNode node)
    {
        if (node.IsRunning) throw new InvalidOperationException($"node {node.Index} is already running");
        var system = ActorSystem.Create($"raft{node.Index}", ConfigFor(node));
        try
        {
            node.Replica = await RaftReplication.Get(system).Replica;
            node.System = system;
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>Stops the node's Raft node (closing its sockets) and terminates its actor system.</summary>
    public async Task KillAsync(RaftTestNode node)
    {
        if (node.System is not { } system) return;
        node.System = null;
        node.Replica = null;
        await RaftReplication.Get(system).StopAsync();
        await system.Terminate();
    }

    /// <summary>Deletes the (killed) node's data directory: it restarts as an empty replica.</summary>
    public void Wipe(RaftTestNode node)
    {
        if (node.IsRunning) throw new InvalidOperationException($"kill node {node.Index} before wiping it");
        if (Directory.Exists(node.DataDirectory)) Directory.Delete(node.DataDirectory, recursive: true);
    }

    /// <summary>Waits until a running node leads and every running node knows it; returns the leader.</summary>
    public async Task<RaftTestNode> WaitOnLeaderAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var leaders = Running.Where(n => n.Replica!.IsLeader).ToList();
            if (leaders.Count == 1 && Running.All(n => Equals(n.Replica!.Leader, leaders[0].RaftEndpoint)))
                return leaders[0];
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no agreed leader among running nodes [{string.Join(", ", Running.Select(n => n.Index))}] " +
                                           $"(views: {string.Join("; ", Running.Select(n => $"{n.Index}->{n.Replica!.Leader?.ToString() ?? "none"}"))})");
            await Task.Delay(50);
        }
    }

    /// <summary>The current leader (waits for one).</summary>
    public Task<RaftTestNode> LeaderAsync() => WaitOnLeaderAsync();

    /// <summary>A running node that is not the leader.</summary>
    public async Task<RaftTestNode> RandomFollowerAsync()
    {
        var leader = await WaitOnLeaderAsync();
        var followers = Running.Where(n => n != leader).ToList();
        return followers[Random.Shared.Next(followers.Count)];
    }

    /// <summary>Polls until every running node's replicated state equals the leader's, or fails with both digests.</summary>
    public async Task WaitUntilConvergedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var digests = Running.Select(n => n.Replica!.StateMachine.Digest()).Distinct().ToList();
            if (digests.Count == 1) return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"replicas did not converge:\n{string.Join("\n---\n", digests)}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await KillAsync(node);
        _root.Dispose();
    }
}

/// <summary>One node of a <see cref="RaftTestCluster"/>; <see cref="System"/> and <see cref="Replica"/> are null while killed.</summary>
public sealed class RaftTestNode(int index, IPEndPoint raftEndpoint, IPEndPoint forwardingEndpoint, string dataDirectory)
{
    public int Index { get; } = index;
    public IPEndPoint RaftEndpoint { get; } = raftEndpoint;
    public IPEndPoint ForwardingEndpoint { get; } = forwardingEndpoint;
    public string DataDirectory { get; } = dataDirectory;
    public ActorSystem? System { get; internal set; }
    public RaftReplica? Replica { get; internal set; }
    public bool IsRunning => System is not null;
    public override string ToString() => $"node{Index}({RaftEndpoint})";
}
