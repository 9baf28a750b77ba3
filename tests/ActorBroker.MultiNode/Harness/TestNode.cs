using ActorBroker.Node;
using ActorBroker.Persistence.Raft;
using Akka.Actor;
using AkkaCluster = Akka.Cluster.Cluster;
using Akka.Configuration;
using Akka.Remote;
using Akka.Remote.Transport;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Microsoft.Extensions.Logging.Abstractions;

namespace ActorBroker.MultiNode.Harness;

/// <summary>
/// One node of a <see cref="MultiNodeCluster"/>: a full ActorBroker node (<see cref="BrokerNode.Start"/>) in its own
/// ActorSystem on a loopback port, with failure injection: abrupt kill, graceful leave, traffic blackhole.
/// </summary>
public sealed class TestNode
{
    private readonly Config _config;
    private readonly string _profile;
    private ActorSystem? _system;

    private readonly bool _usesRaft;

    internal TestNode(string role, int remotingPort, int stompPort, Config config, string profile, bool usesRaft)
    {
        _usesRaft = usesRaft;
        Role = role;
        RemotingPort = remotingPort;
        StompPort = stompPort;
        Address = new Address(MultiNodeCluster.Protocol, NodeSettings.SystemName, "127.0.0.1", remotingPort);
        _config = config;
        _profile = profile;
    }

    /// <summary>The node's role (also its Akka cluster role and its name in logs and barriers).</summary>
    public string Role { get; }

    public int RemotingPort { get; }

    public int StompPort { get; }

    public Address Address { get; }

    public ActorSystem System => _system ?? throw new InvalidOperationException($"node [{Role}] is not started");

    public AkkaCluster Cluster => AkkaCluster.Get(System);

    /// <summary>True from start until killed, left or terminated.</summary>
    public bool IsAlive => _system is { WhenTerminated.IsCompleted: false };

    internal void Start(BrokerManagerObserver observer)
    {
        _system = ActorSystem.Create(NodeSettings.SystemName, _config);
        observer.Watch(Role, _system);
        BrokerNode.Start(_system, _config, _profile, NullLoggerFactory.Instance);
    }

    /// <summary>A probe living in this node's actor system (replies from the broker arrive locally).</summary>
    public TestProbe CreateProbe(string name = "probe") => new(System, new XunitAssertions(), name);

    /// <summary>
    /// Abrupt death as the rest of the cluster sees it: the actor system terminates without leaving the cluster (the
    /// harness turns off coordinated shutdown on terminate), so its TCP connections drop and peers must detect it.
    /// </summary>
    public async Task KillAsync()
    {
        var system = System;
        // The Raft replica normally stops in coordinated shutdown, which a crash skips: stop it with the system, as the
        // death of the process would.
        var raftStopped = _usesRaft ? RaftReplication.Get(system).StopAsync() : Task.CompletedTask;
        await Task.WhenAll(system.Terminate(), raftStopped).WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Graceful leave: coordinated shutdown (leave, singleton hand-over, terminate), awaited to the end.</summary>
    public async Task LeaveAsync()
    {
        var system = System;
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).WaitAsync(TimeSpan.FromSeconds(60));
        await system.WhenTerminated.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Drops all traffic between this node and <paramref name="other"/>, both directions; TCP stays open.</summary>
    public Task BlackholeAsync(TestNode other) => ThrottleAsync(other, Blackhole.Instance);

    /// <summary>Lets traffic between this node and <paramref name="other"/> flow again.</summary>
    public Task HealAsync(TestNode other) => ThrottleAsync(other, Unthrottled.Instance);

    private async Task ThrottleAsync(TestNode other, ThrottleMode mode)
    {
        var transport = ((IRemoteActorRefProvider)((ExtendedActorSystem)System).Provider).Transport;
        if (!await transport.ManagementCommand(new SetThrottle(other.Address, ThrottleTransportAdapter.Direction.Both, mode)))
            throw new InvalidOperationException($"throttler refused {mode} from [{Role}] to [{other.Role}]: is applied-adapters = [trttl] set?");
    }

    internal async Task TerminateQuietlyAsync()
    {
        if (_system is null) return;
        try
        {
            var raftStopped = _usesRaft ? RaftReplication.Get(_system).StopAsync() : Task.CompletedTask;
            await Task.WhenAll(_system.Terminate(), raftStopped).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            // Disposal must go on for the other nodes; a stuck system only leaks until the test process exits.
        }
    }

    public override string ToString() => $"{Role} ({Address})";
}
