using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.Tests.Stomp;

/// <summary>When the broker side fails, the client hears about it: an ERROR frame and a close, never silence.</summary>
public sealed class StompBrokerFailureSpecs(ITestOutputHelper output) : StompSessionSpecBase(output)
{
    [Fact(DisplayName = "A subscription whose destination actor stops ends the connection with ERROR naming the subscription")]
    public async Task DestinationStopEndsTheConnection()
    {
        var client = await ConnectAsync();
        var (_, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client-individual");
        await PingAsync(client);

        Sys.Stop(destination.Ref);

        await AssertErrorAndCloseAsync(client, "subscription [s1] on [/queue/q] lost", null);
    }

    [Fact(DisplayName = "A SEND the broker never confirms ends the connection with ERROR after confirm-timeout, not with a receipt")]
    public async Task UnconfirmedSendTimesOut()
    {
        var settings = StompSettings.Create(ConfigurationFactory.ParseString(
            "actorbroker.stomp { port = 0, confirm-timeout = 400ms, heartbeat { send-interval = 0s, receive-interval = 0s } }"));
        var listener = await StartListenerAsync(settings);
        var (client, _) = await ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        Track(client);

        await client.SendFrameAsync("SEND", H("destination", "/queue/q", "persistent", "true", "receipt", "r1"), "lost in a stalled store");
        await Broker.ExpectMsgAsync<Send>(Timeout); // routed, and never confirmed

        await AssertErrorAndCloseAsync(client, "did not confirm within confirm-timeout", null);
    }
}
