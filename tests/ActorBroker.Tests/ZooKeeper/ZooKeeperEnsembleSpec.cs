using System.Text;
using ActorBroker.Testing;
using ActorBroker.ZooKeeper;
using ActorBroker.ZooKeeper.Internal;
using Xunit;

namespace ActorBroker.Tests.ZooKeeper;

/// <summary>A 3-server quorum on loopback, started for this spec only (it stops servers).</summary>
public sealed class ZooKeeperEnsembleFixture : IAsyncLifetime
{
    public ZooKeeperEnsemble Ensemble { get; private set; } = null!;

    public async Task InitializeAsync() => Ensemble = await ZooKeeperEnsemble.StartAsync(3);

    public async Task DisposeAsync() => await Ensemble.DisposeAsync();
}

/// <summary>Failover of a session between the servers of a multi-server connect string.</summary>
[Collection(ZooKeeperCollection.Name)]
public sealed class ZooKeeperEnsembleSpec(ZooKeeperEnsembleFixture fixture) : IClassFixture<ZooKeeperEnsembleFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact(DisplayName = "When its server dies the client resumes the same session on another server, ephemerals and watches intact")]
    public async Task ReconnectKeepsSession()
    {
        var ns = ZooKeeperServer.NewNamespace("ensemble");
        var states = new Recorder<ZooKeeperConnectionState>();
        var events = new Recorder<WatchedEvent>();
        await using var client = await ZooKeeperClient.ConnectAsync(
            new ZooKeeperClientOptions(fixture.Ensemble.ConnectString, TimeSpan.FromSeconds(10)) { ConnectTimeout = Patience });
        client.StateChanged += states.Add;
        await client.CreateAsync(ns, Array.Empty<byte>(), CreateMode.Persistent);
        await client.CreateAsync($"{ns}/eph", Encoding.UTF8.GetBytes("mine"), CreateMode.Ephemeral);
        await client.GetDataAsync(ns + "/eph", events.Add);
        var sessionId = client.SessionId;
        var firstServer = client.ConnectedServer!.Port;

        await fixture.Ensemble.Members.Single(m => m.ClientPort == firstServer).StopAsync();

        await states.WaitFor(s => s == ZooKeeperConnectionState.Disconnected, Patience, "Disconnected");
        await client.WaitForConnectedAsync(Patience);
        Assert.Equal(sessionId, client.SessionId);
        Assert.NotEqual(firstServer, client.ConnectedServer!.Port);
        var stat = await Retry(() => client.ExistsAsync($"{ns}/eph"));
        Assert.Equal(sessionId, stat!.EphemeralOwner);

        // The watch set on the dead server was re-registered on the new one.
        await using var other = await ZooKeeperClient.ConnectAsync(
            new ZooKeeperClientOptions(fixture.Ensemble.ConnectString, TimeSpan.FromSeconds(10)) { ConnectTimeout = Patience });
        await other.SetDataAsync($"{ns}/eph", Encoding.UTF8.GetBytes("changed"));
        await events.WaitFor(e => e.Type == WatchEventType.NodeDataChanged, Patience, "NodeDataChanged after failover");
        Assert.DoesNotContain(ZooKeeperConnectionState.Expired, states.Seen);
    }

    /// <summary>Right after a failover a quorum may still be re-electing; a read can see one more ConnectionLoss.</summary>
    private static async Task<T> Retry<T>(Func<Task<T>> operation)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                return await operation();
            }
            catch (ConnectionLossException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
