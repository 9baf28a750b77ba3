using ActorBroker.Core;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using ActorBroker.Stomp.Transport;
using ActorBroker.Testing;
using ActorBroker.Tests.Core;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.Tests.Stomp;

/// <summary>
/// STOMP clients against a real broker manager (in-memory journal), for contracts that span session and core:
/// what a client sees after its own or another connection's actions.
/// </summary>
public sealed class StompEndToEndSpecs(ITestOutputHelper output) : CoreSpec(output, systemName: "stomp-end-to-end-spec"), IAsyncLifetime
{
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(500);

    private readonly List<StompTestClient> _clients = [];
    private StompListener _listener = null!;

    public async Task InitializeAsync()
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(BrokerManagerStarted));
        var manager = Sys.ActorOf(BrokerManager.Props(Settings), "broker");
        await events.ExpectMsgAsync<BrokerManagerStarted>(Timeout);
        var settings = StompSettings.Create(ConfigurationFactory.ParseString(
            "actorbroker.stomp { port = 0, heartbeat { send-interval = 0s, receive-interval = 0s } }"));
        _listener = await StompListener.StartAsync(settings, Sys, manager, NullLoggerFactory.Instance);
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
        await _listener.StopAsync();
    }

    [Fact(DisplayName = "A connection dropped without COMMIT aborts its transaction: a new consumer gets the SEND outside it and nothing from inside")]
    public async Task DroppedConnectionAbortsTransaction()
    {
        var producer = await ConnectAsync();
        await producer.SendFrameAsync("BEGIN", H("transaction", "t1"));
        await producer.SendFrameAsync("SEND", H("destination", "/queue/tx", "transaction", "t1", "persistent", "true"), "inside");
        // Frames are handled in order: once this receipt is back, the transactional SEND is buffered in the session.
        await producer.SendAndAwaitReceiptAsync("SEND", H("destination", "/queue/tx", "persistent", "true"), "outside"u8.ToArray());
        await producer.DisposeAsync(); // the socket closes: no COMMIT, no DISCONNECT

        var consumer = await ConnectAsync();
        await consumer.SendFrameAsync("SUBSCRIBE", H("id", "s", "destination", "/queue/tx", "ack", "auto"));
        var frame = await consumer.ReceiveFrameAsync(Timeout);
        Assert.Equal("MESSAGE", frame.Command);
        Assert.Equal("outside", frame.BodyText);
        Assert.Null(await consumer.TryReceiveFrameAsync(Silence));
    }

    [Fact(DisplayName = "A NACKed MESSAGE comes back with redelivered:true and JMSXDeliveryCount 2, the first delivery said 1")]
    public async Task NackedMessageCarriesDeliveryCount()
    {
        var producer = await ConnectAsync();
        await producer.SendAndAwaitReceiptAsync("SEND", H("destination", "/queue/work", "persistent", "true"), "job"u8.ToArray());

        var consumer = await ConnectAsync();
        await consumer.SendFrameAsync("SUBSCRIBE", H("id", "s", "destination", "/queue/work", "ack", "client-individual"));
        var first = await consumer.ReceiveFrameAsync(Timeout);
        Assert.Equal("job", first.BodyText);
        Assert.Null(first["redelivered"]);
        Assert.Equal("1", first["JMSXDeliveryCount"]);

        await consumer.SendFrameAsync("NACK", H("id", first["ack"]!));
        var again = await consumer.ReceiveFrameAsync(Timeout);
        Assert.Equal(first["message-id"], again["message-id"]);
        Assert.Equal("true", again["redelivered"]);
        Assert.Equal("2", again["JMSXDeliveryCount"]);
    }

    private async Task<StompTestClient> ConnectAsync()
    {
        var (client, _) = await ConnectStompAsync("127.0.0.1", _listener.Port, null, Timeout);
        _clients.Add(client);
        return client;
    }
}
