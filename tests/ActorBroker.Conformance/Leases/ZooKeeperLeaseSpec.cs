using System.Diagnostics;
using System.Text;
using ActorBroker.Coordination;
using ActorBroker.Testing;
using ActorBroker.ZooKeeper;
using ActorBroker.ZooKeeper.Internal;
using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Leases;

/// <summary>A ZooKeeper server of its own for <see cref="ZooKeeperLeaseSpec"/>, whose outage test stops and restarts it.</summary>
public sealed class ZooKeeperLeaseServerFixture : IAsyncLifetime
{
    public ZooKeeperServer Server { get; } = ZooKeeperServer.Standalone();

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// The lease contract for <see cref="ZooKeeperLease"/> against a real ZooKeeper 3.8 server (tickTime 500 ms). Each spec
/// gets its own root znode. Timings are shorter than reference.conf's (TTL 2 s instead of 6 s) to keep the suite fast;
/// that fixture server's tickTime allows sessions of 1 s to 10 s. Outage = the server process killed (by PID) and
/// restarted on the same port with the same data.
/// </summary>
public sealed class ZooKeeperLeaseSpec(ZooKeeperLeaseServerFixture fixture, ITestOutputHelper output)
    : LeaseConformanceSpec(output), IClassFixture<ZooKeeperLeaseServerFixture>
{
    private readonly string _rootPath = ZooKeeperServer.NewNamespace("lease");

    protected override string ConfigPath => ZooKeeperLeaseSettings.ConfigPath;

    protected override string LeaseSection(string owner) => $"""
        lease-class = "ActorBroker.ZooKeeper.ZooKeeperLease, ActorBroker.ZooKeeper"
        connect-string = "{fixture.Server.ConnectString}"
        root-path = "{_rootPath}"
        heartbeat-timeout = 2s
        heartbeat-interval = 400ms
        safety-margin = 400ms
        lease-operation-timeout = 1s
        connect-timeout = 3s
        """;

    protected override Task MakeStoreUnreachableAsync() => fixture.Server.StopAsync();

    protected override Task RestoreStoreAsync() => fixture.Server.StartAsync();

    [Fact(DisplayName = "ZooKeeper lease should not be acquired while the lock znode belongs to another live session")]
    public async Task LockOfAnotherSessionBlocks()
    {
        var node = StartNode();
        await using var squatter = await ZooKeeperClient.ConnectAsync(
            new ZooKeeperClientOptions(fixture.Server.ConnectString, TimeSpan.FromSeconds(4)));
        var leasePath = $"{_rootPath}/{Uri.EscapeDataString(LeaseName)}";
        await squatter.CreateAsync(_rootPath, Array.Empty<byte>(), CreateMode.Persistent);
        await squatter.CreateAsync(leasePath, Array.Empty<byte>(), CreateMode.Persistent);
        await squatter.CreateAsync($"{leasePath}/lock", Encoding.UTF8.GetBytes("someone-else\nx"), CreateMode.Ephemeral);

        Assert.False(await node.Lease.Acquire());
        Assert.False(node.Lease.CheckLease());

        await squatter.CloseAsync(); // session gone, lock gone
        Assert.True(await node.Lease.Acquire());
        var lockStat = await ReadLockStatAsync(leasePath);
        Assert.Equal(lockStat.Czxid, node.Lease.HeldEpoch);
    }

    [Fact(DisplayName = "ZooKeeper lease holder should be told it lost the lease when the server expires its session")]
    public async Task SessionExpiryLosesTheLease()
    {
        // The holder reaches the server through a proxy, so the test can keep it away while its session is ended.
        await using var proxy = new TcpFaultProxy(fixture.Server.ClientPort);
        var holder = StartNode("holder", LeaseSection("holder") + $"\nconnect-string = \"{proxy.ConnectString}\"").Lease;
        var successor = StartNode().Lease;
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await holder.Acquire(reason => lost.TrySetResult(reason)));
        var session = ((ZooKeeperLease)holder).Store.SessionForTests!;

        // Another client resumes the holder's session (id + password) and closes it: the server ends the session and
        // deletes the lock. Then the holder may reconnect, well within its hold validity, and learns of the expiry.
        proxy.Cut();
        await using (var impostor = await ZooKeeperClient.ConnectAsync(
            new ZooKeeperClientOptions(fixture.Server.ConnectString, TimeSpan.FromSeconds(2))
            { SessionId = session.SessionId, SessionPassword = session.SessionPassword }))
        {
            await impostor.CloseAsync();
        }
        proxy.Restore();

        var reason = await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Output.WriteLine($"lost: {reason.Message}");
        Assert.IsNotType<LeaseTimeoutException>(reason); // told by the expiry, not by its own clock running out
        Assert.Equal(ZooKeeperConnectionState.Expired, session.State);
        Assert.False(holder.CheckLease());
        Assert.True(await successor.Acquire());
    }

    [Fact(DisplayName = "ZooKeeper lease should refuse to acquire when the server grants a session shorter than the TTL")]
    public async Task RefusesShortSession()
    {
        // The fixture server grants at most 20 ticks = 10 s: a 12 s TTL cannot be backed by a session.
        var section = LeaseSection("x") + "\nheartbeat-timeout = 12s, heartbeat-interval = 1s, safety-margin = 1s, lease-operation-timeout = 5s";
        var lease = StartNode("x", section).Lease;
        var error = await Assert.ThrowsAnyAsync<LeaseException>(() => lease.Acquire());
        Assert.Contains("heartbeat-timeout", error.Message);
    }

    [Fact(DisplayName = "ZooKeeper lease should refuse to start with a clear error when connect-string is missing")]
    public void RejectsMissingConnectString()
    {
        var error = AssertConfigurationError(() => StartNode("x", LeaseSection("x") + "\nconnect-string = \"\""));
        Assert.Contains("actorbroker.coordination.zookeeper-lease.connect-string", error.Message);
    }

    [Fact(DisplayName = "ZooKeeper lease should refuse to start with a clear error when session-timeout is below the TTL")]
    public void RejectsSessionShorterThanTtl()
    {
        var error = AssertConfigurationError(() => StartNode("x", LeaseSection("x") + "\nsession-timeout = 1s"));
        Assert.Contains("session-timeout", error.Message);
        Assert.Contains("heartbeat-timeout", error.Message);
    }

    [Fact(DisplayName = "ZooKeeper lease should refuse to start with a clear error when root-path is not an absolute znode path")]
    public void RejectsRelativeRootPath()
    {
        var error = AssertConfigurationError(() => StartNode("x", LeaseSection("x") + "\nroot-path = \"leases/\""));
        Assert.Contains("root-path", error.Message);
    }

    private async Task<ZNodeStat> ReadLockStatAsync(string leasePath)
    {
        await using var reader = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions(fixture.Server.ConnectString, TimeSpan.FromSeconds(4)));
        return (await reader.ExistsAsync($"{leasePath}/lock"))!;
    }
}

/// <summary>A 3-server quorum of its own for <see cref="ZooKeeperLeaseFailoverSpec"/> (it stops a server).</summary>
public sealed class ZooKeeperLeaseEnsembleFixture : IAsyncLifetime
{
    public ZooKeeperEnsemble Ensemble { get; private set; } = null!;

    public async Task InitializeAsync() => Ensemble = await ZooKeeperEnsemble.StartAsync(3);

    public async Task DisposeAsync() => await Ensemble.DisposeAsync();
}

/// <summary>The replicated profile's case: the lease survives the loss of the ZooKeeper server it is connected to.</summary>
public sealed class ZooKeeperLeaseFailoverSpec(ZooKeeperLeaseEnsembleFixture fixture, ITestOutputHelper output)
    : IClassFixture<ZooKeeperLeaseEnsembleFixture>, IAsyncLifetime
{
    private const string ConfigPath = ZooKeeperLeaseSettings.ConfigPath;
    private ActorSystem _system = null!;

    public Task InitializeAsync()
    {
        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            {{ConfigPath}} {
              connect-string = "{{fixture.Ensemble.ConnectString}}"
              root-path = "{{ZooKeeperServer.NewNamespace("failover")}}"
              heartbeat-timeout = 6s
              heartbeat-interval = 500ms
              safety-margin = 1s
              lease-operation-timeout = 2s
            }
            """).WithFallback(ZooKeeperConfig.Default);
        _system = ActorSystem.Create("zk-failover", config);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.Terminate();

    [Fact(DisplayName = "ZooKeeper lease should stay held, same epoch, when the server its session uses dies")]
    public async Task LeaseSurvivesServerFailover()
    {
        var lease = (ZooKeeperLease)LeaseProvider.Get(_system).GetLease("failover", ConfigPath, "holder@127.0.0.1:1");
        var lost = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await lease.Acquire(reason => lost.TrySetResult(reason)));
        var epoch = lease.HeldEpoch;
        var session = lease.Store.SessionForTests!;
        var states = new List<ZooKeeperConnectionState>();
        session.StateChanged += state => { lock (states) states.Add(state); };
        var server = session.ConnectedServer!.Port;

        var stoppedAt = Stopwatch.GetTimestamp();
        await fixture.Ensemble.Members.Single(m => m.ClientPort == server).StopAsync();
        await session.WaitForConnectedAsync(TimeSpan.FromSeconds(20));
        output.WriteLine($"session resumed on port {session.ConnectedServer!.Port} after {Stopwatch.GetElapsedTime(stoppedAt).TotalMilliseconds:F0} ms");

        // Let several heartbeats go through on the new server, then check nothing was lost on the way.
        await Task.Delay(lease.Timing.HeartbeatInterval * 4);
        if (lost.Task.IsCompleted) Assert.Fail($"lease lost during failover: {(await lost.Task).Message}");
        Assert.True(lease.CheckLease());
        Assert.Equal(epoch, lease.HeldEpoch);
        lock (states) Assert.Contains(ZooKeeperConnectionState.Disconnected, states);
        Assert.NotEqual(server, session.ConnectedServer!.Port);
        Assert.True(await lease.Release());
    }
}
