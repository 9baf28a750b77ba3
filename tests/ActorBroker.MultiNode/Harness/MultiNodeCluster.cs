using System.Diagnostics;
using ActorBroker.Node;
using ActorBroker.Testing;
using Akka.Cluster;
using Akka.Remote;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Harness;

/// <summary>
/// Several full ActorBroker nodes in one test process, each its own ActorSystem on a free loopback port, configured from
/// a real profile in <c>hocon/</c> (plus harness overrides) and sharing one temporary directory: the in-process
/// replacement for Akka's multi-node TestKit. Nodes start in role order, so the first role is the oldest member and
/// the first master. Disposal terminates every node and removes the directory.
/// </summary>
public sealed class MultiNodeCluster : IAsyncDisposable
{
    /// <summary>Generous bound for cluster formation and failover waits on a loaded 2-core machine.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    /// <summary>Remoting protocol of every harness node: the throttler adapter over TCP (addresses change with it).</summary>
    public const string Protocol = "akka.trttl.tcp";

    private readonly ITestOutputHelper? _output;
    private readonly TempDirectory _directory = new("actorbroker-multinode");
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TestNode> _nodes = [];

    /// <param name="profile">Profile file name in hocon/, e.g. <c>shared-file.conf</c>.</param>
    /// <param name="roles">One node per role, started in this order.</param>
    /// <param name="output">Receives the harness timeline (node starts, kills, failover events).</param>
    /// <param name="extraHocon">Spec-specific overrides, applied after the profile and the harness settings.</param>
    public MultiNodeCluster(string profile, IReadOnlyList<string> roles, ITestOutputHelper? output = null, string extraHocon = "")
    {
        _output = output;
        ProfilePath = Path.Combine(RepositoryLayout.Root, "hocon", profile);
        SharedDirectory = _directory.Combine("shared");
        Directory.CreateDirectory(SharedDirectory);
        var profileText = File.ReadAllText(ProfilePath);
        var usesRaft = profileText.Contains("actorbroker.persistence.raft", StringComparison.Ordinal);
        var raftPorts = roles.Select(_ => usesRaft ? FreePort.NextPair() : 0).ToList();
        var raftMembers = string.Join(",", raftPorts.Select(p => $"127.0.0.1:{p}"));
        var seedPort = 0;
        foreach (var (role, index) in roles.Select((r, i) => (r, i)))
        {
            var remotingPort = FreePort.Next();
            if (seedPort == 0) seedPort = remotingPort;
            var stompPort = FreePort.Next();
            var dataDir = _directory.Combine(role);
            Directory.CreateDirectory(dataDir);
            var harnessHocon = $"""
                actorbroker.node.data-dir = {Quote(dataDir)}
                actorbroker.node.shared-dir = {Quote(SharedDirectory)}
                actorbroker.stomp.host = "127.0.0.1"
                actorbroker.stomp.port = {stompPort}
                akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
                akka.remote.dot-netty.tcp.port = {remotingPort}
                # The throttler adapter lets a spec blackhole traffic between two nodes.
                akka.remote.dot-netty.tcp.applied-adapters = [trttl]
                akka.cluster.seed-nodes = ["{Protocol}://{NodeSettings.SystemName}@127.0.0.1:{seedPort}"]
                akka.cluster.roles = [{Quote(role)}]
                # Terminate() must be a crash (no leave); LeaveAsync runs coordinated shutdown explicitly.
                akka.coordinated-shutdown.run-by-actor-system-terminate = off
                akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
                akka.loglevel = WARNING
                """;
            // Raft endpoints go through the node's own environment variables, as an operator would set them.
            var environment = new Dictionary<string, string?>();
            if (usesRaft)
            {
                environment["ACTORBROKER_RAFT_PORT"] = raftPorts[index].ToString();
                environment["ACTORBROKER_RAFT_MEMBERS"] = raftMembers;
            }

            var config = NodeConfiguration.Build(profileText + "\n" + harnessHocon + "\n" + extraHocon, [], environment);
            _nodes.Add(new TestNode(role, remotingPort, stompPort, config, ProfilePath, usesRaft));
        }
    }

    public string ProfilePath { get; }

    /// <summary>The directory every node shares (lease and journal of the shared-file profile).</summary>
    public string SharedDirectory { get; }

    public IReadOnlyList<TestNode> Nodes => _nodes;

    public BrokerManagerObserver Observer { get; } = new();

    public Barriers Barriers { get; } = new();

    /// <summary>Milliseconds since the cluster object was created (the timeline's clock).</summary>
    public long ElapsedMs => _clock.ElapsedMilliseconds;

    public TestNode this[string role] => _nodes.Single(n => n.Role == role);

    /// <summary>Starts the nodes one after the other (each Up before the next starts), then waits for a master.</summary>
    public async Task StartAsync()
    {
        foreach (var node in _nodes)
        {
            node.Start(Observer);
            TraceFailoverEvents(node);
            Log($"started {node}");
            await AwaitConditionAsync(() => node.Cluster.SelfMember.Status == MemberStatus.Up, $"[{node.Role}] to be Up");
        }

        await AwaitConditionAsync(
            () => _nodes.All(n => n.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) == _nodes.Count),
            "every node to see every member Up");
        var host = await Observer.WaitForHostAsync(Patience);
        Log($"broker manager runs on [{host.Node}]");
    }

    /// <summary>Runs <paramref name="action"/> concurrently on the live nodes with one of <paramref name="roles"/>.</summary>
    public Task RunOnAsync(IEnumerable<string> roles, Func<TestNode, Task> action)
    {
        var set = roles.ToHashSet();
        return Task.WhenAll(_nodes.Where(n => set.Contains(n.Role) && n.IsAlive).Select(n => Task.Run(() => action(n))));
    }

    /// <summary><paramref name="node"/> waits at barrier <paramref name="name"/> until every live node entered it.</summary>
    public Task EnterBarrierAsync(TestNode node, string name) =>
        Barriers.EnterAsync(name, node.Role, _nodes.Count(n => n.IsAlive), Patience);

    /// <summary>Kills <paramref name="node"/> abruptly and returns the moment it was killed (Stopwatch timestamp).</summary>
    public async Task<long> KillAsync(TestNode node)
    {
        var killedAt = Stopwatch.GetTimestamp();
        Log($"killing {node}");
        await node.KillAsync();
        Observer.NodeDied(node.Role);
        Log($"{node.Role} terminated");
        return killedAt;
    }

    /// <summary>Blackholes all traffic between the two groups of nodes (a partition that keeps TCP connections open).</summary>
    public async Task PartitionAsync(IReadOnlyList<TestNode> side, IReadOnlyList<TestNode> otherSide)
    {
        foreach (var a in side)
        foreach (var b in otherSide)
        {
            await a.BlackholeAsync(b);
            await b.BlackholeAsync(a);
        }

        Log($"partitioned [{string.Join(",", side.Select(n => n.Role))}] | [{string.Join(",", otherSide.Select(n => n.Role))}]");
    }

    /// <summary>Polls <paramref name="condition"/> until true or <see cref="Patience"/> ran out (then throws naming it).</summary>
    public static async Task AwaitConditionAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? Patience).TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
                throw new TimeoutException($"timed out after {(timeout ?? Patience).TotalSeconds} s waiting for {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Puts what failover timing is made of on the timeline: reachability, downing, removal, remoting links.</summary>
    private void TraceFailoverEvents(TestNode node)
    {
        var trace = CallbackActorRef.For(node.System, "failover-trace", message =>
        {
            var line = message switch
            {
                ClusterEvent.UnreachableMember e => $"unreachable {e.Member.Address.Port}",
                ClusterEvent.ReachableMember e => $"reachable again {e.Member.Address.Port}",
                ClusterEvent.MemberDowned e => $"downed {e.Member.Address.Port}",
                ClusterEvent.MemberRemoved e => $"removed {e.Member.Address.Port}",
                DisassociatedEvent e => $"link dropped to {e.RemoteAddress.Port}",
                AssociationErrorEvent e => $"link error to {e.RemoteAddress.Port}",
                QuarantinedEvent e => $"quarantined {e.Address.Port}",
                _ => null,
            };
            if (line is not null) Log($"[{node.Role}] {line}");
        });
        node.Cluster.Subscribe(trace, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));
        node.System.EventStream.Subscribe(trace, typeof(RemotingLifecycleEvent));
    }

    public void Log(string line) => _output?.WriteLine($"{ElapsedMs,7} ms  {line}");

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_nodes.Select(n => n.TerminateQuietlyAsync()));
        _directory.Dispose();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
