using System.Net.Sockets;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using ActorBroker.Stomp.Transport;
using ActorBroker.Testing;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.Tests.Stomp;

public sealed class StompListenerHostSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly StompSettings Settings = StompSettings.Create(ConfigurationFactory.ParseString(
        "actorbroker.stomp { port = 0, heartbeat { send-interval = 0s, receive-interval = 0s } }"));

    public StompListenerHostSpecs(ITestOutputHelper output)
        : base("akka.loglevel = INFO", output: output)
    {
    }

    [Fact(DisplayName = "The listener opens when a broker manager starts here and closes, aborting clients, when it stops")]
    public async Task FollowsBrokerManager()
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events, typeof(StompListenerOpened));
        Sys.EventStream.Subscribe(events, typeof(StompListenerClosed));
        var host = Sys.ActorOf(StompListenerHost.Props(Settings, NullLoggerFactory.Instance));
        await host.Ask<ActorIdentity>(new Identify(null), Timeout); // its EventStream subscription is in place
        var manager = CreateTestProbe();

        Sys.EventStream.Publish(new BrokerManagerStarted(manager));
        var opened = await events.ExpectMsgAsync<StompListenerOpened>(Timeout);

        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", opened.EndPoint.Port, null, Timeout);
        await using var _ = client;
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "x");
        await manager.ExpectMsgAsync<Send>(Timeout);

        Sys.EventStream.Publish(new BrokerManagerStopped(manager));
        Assert.Equal(opened.EndPoint, (await events.ExpectMsgAsync<StompListenerClosed>(Timeout)).EndPoint);
        Assert.True(await client.WaitForCloseAsync(Timeout));
        await Assert.ThrowsAnyAsync<SocketException>(() => StompTestClient.ConnectAsync("127.0.0.1", opened.EndPoint.Port, Timeout));
    }

    [Fact(DisplayName = "A stop for a broker manager the listener does not serve leaves it open")]
    public async Task IgnoresOtherManagersStop()
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events, typeof(StompListenerOpened));
        Sys.EventStream.Subscribe(events, typeof(StompListenerClosed));
        var host = Sys.ActorOf(StompListenerHost.Props(Settings, NullLoggerFactory.Instance));
        await host.Ask<ActorIdentity>(new Identify(null), Timeout);
        var manager = CreateTestProbe();

        Sys.EventStream.Publish(new BrokerManagerStarted(manager));
        var opened = await events.ExpectMsgAsync<StompListenerOpened>(Timeout);
        Sys.EventStream.Publish(new BrokerManagerStopped(CreateTestProbe()));
        await host.Ask<ActorIdentity>(new Identify(null), Timeout); // the stop was handled

        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", opened.EndPoint.Port, null, Timeout);
        await client.DisposeAsync();
        Assert.False(events.HasMessages);

        Sys.Stop(host);
    }
}
