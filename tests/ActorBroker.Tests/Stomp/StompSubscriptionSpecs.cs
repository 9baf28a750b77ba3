using System.Text;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using ActorBroker.Stomp.Transport;
using ActorBroker.Testing;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Xunit.Abstractions;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.Tests.Stomp;

/// <summary>Consuming: SUBSCRIBE/UNSUBSCRIBE, MESSAGE frames, auto/client/client-individual acks, NACK, transactional acks.</summary>
public sealed class StompSubscriptionSpecs : StompSessionSpecBase
{
    public StompSubscriptionSpecs(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact(DisplayName = "MESSAGE carries subscription, message-id, destination, ack, redelivered, JMSXDeliveryCount, persistent, timestamp, user headers and the exact body")]
    public async Task MessageFrameHeaders()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client");
        var body = new byte[] { (byte)'a', 0, (byte)'b' };
        var message = new BrokerMessage("ID:m-1", Destination.Queue("q"), true, 1_700_000_000_000,
            [new("custom", "x:y"), new("content-type", "text/plain")], body);

        destination.Send(session, new Deliver("s1", message, DeliveryTag: 5, Redelivered: true, DeliveryCount: 2));

        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("MESSAGE", frame.Command);
        Assert.Equal("s1", frame["subscription"]);
        Assert.Equal("ID:m-1", frame["message-id"]);
        Assert.Equal("/queue/q", frame["destination"]);
        Assert.False(string.IsNullOrEmpty(frame["ack"]));
        Assert.Equal("true", frame["redelivered"]);
        Assert.Equal("2", frame["JMSXDeliveryCount"]);
        Assert.Equal("true", frame["persistent"]);
        Assert.Equal("1700000000000", frame["timestamp"]);
        Assert.Equal("x:y", frame["custom"]);
        Assert.Equal("text/plain", frame["content-type"]);
        Assert.Equal("3", frame["content-length"]);
        Assert.Equal(body, frame.Body);

        destination.Send(session, new Deliver("s1", message with { MessageId = "ID:m-2" }, DeliveryTag: 6, Redelivered: false, DeliveryCount: 1));
        var first = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("ID:m-2", first["message-id"]);
        Assert.Null(first["redelivered"]);
        Assert.Equal("1", first["JMSXDeliveryCount"]);
    }

    [Fact(DisplayName = "SUBSCRIBE passes id, destination, ack mode, prefetch and the durable name; its receipt waits for SubscribeConfirmed")]
    public async Task SubscribeMapsToCore()
    {
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", Listener.Port, H("client-id", "app-1"), Timeout);
        Track(client);
        await client.SendFrameAsync("SUBSCRIBE", H("id", "d1", "destination", "/topic/news", "ack", "client-individual",
            "activemq.prefetchSize", "7", "activemq.subscriptionName", "news-feed", "receipt", "sub-1"));

        var subscribe = await Broker.ExpectMsgAsync<Subscribe>(Timeout);
        var session = Broker.LastSender;
        Assert.Equal(new Subscribe("d1", Destination.Topic("news"), AckMode.ClientIndividual, 7, "app-1", "news-feed"), subscribe);
        await PingAsync(client);

        CreateTestProbe().Send(session, new SubscribeConfirmed("d1"));
        Assert.Equal("sub-1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "In client mode an ACK acknowledges the named MESSAGE and every earlier one; its receipt waits for AckConfirmed")]
    public async Task ClientModeCumulativeAck()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client");
        var acks = await DeliverAsync(client, session, destination, "s1", 1, 2, 3);

        await client.SendFrameAsync("ACK", H("id", acks[1], "receipt", "k1"));
        var ack = await destination.ExpectMsgAsync<Ack>(Timeout);
        Assert.Equal("s1", ack.SubscriptionId);
        Assert.Equal([1L, 2L], ack.DeliveryTags);
        await PingAsync(client);

        destination.Send(session, new AckConfirmed(ack.CorrelationId));
        Assert.Equal("k1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);

        await client.SendFrameAsync("ACK", H("id", acks[2]));
        Assert.Equal([3L], (await destination.ExpectMsgAsync<Ack>(Timeout)).DeliveryTags);
    }

    [Fact(DisplayName = "In client-individual mode ACK and NACK cover only the named MESSAGE; NACK's receipt waits for confirmation")]
    public async Task ClientIndividualAckAndNack()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client-individual");
        var acks = await DeliverAsync(client, session, destination, "s1", 1, 2, 3);

        await client.SendFrameAsync("ACK", H("id", acks[2]));
        Assert.Equal([3L], (await destination.ExpectMsgAsync<Ack>(Timeout)).DeliveryTags);

        await client.SendFrameAsync("NACK", H("id", acks[0], "receipt", "n1"));
        var nack = await destination.ExpectMsgAsync<Nack>(Timeout);
        Assert.Equal([1L], nack.DeliveryTags);
        await PingAsync(client);
        destination.Send(session, new AckConfirmed(nack.CorrelationId));
        Assert.Equal("n1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);

        await client.SendFrameAsync("ACK", H("id", acks[0]));
        await AssertErrorAndCloseAsync(client, "not an unacknowledged message", null);
    }

    [Fact(DisplayName = "An ACK inside a transaction reaches the destination only at COMMIT")]
    public async Task TransactionalAck()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client-individual");
        var acks = await DeliverAsync(client, session, destination, "s1", 4);

        await client.SendFrameAsync("BEGIN", H("transaction", "t"));
        await client.SendFrameAsync("ACK", H("id", acks[0], "transaction", "t"));
        await PingAsync(client);
        Assert.False(destination.HasMessages);

        await client.SendFrameAsync("COMMIT", H("transaction", "t", "receipt", "c"));
        var ack = await destination.ExpectMsgAsync<Ack>(Timeout);
        Assert.Equal([4L], ack.DeliveryTags);
        destination.Send(session, new AckConfirmed(ack.CorrelationId));
        Assert.Equal("c", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "STOMP 1.1 clients ACK by message-id and subscription; MESSAGE has no ack header")]
    public async Task Stomp11AckByMessageId()
    {
        var client = await RawConnectAsync(Listener);
        await client.SendFrameAsync("CONNECT", H("accept-version", "1.1", "host", "b"));
        Assert.Equal("1.1", (await client.ReceiveFrameAsync(Timeout))["version"]);
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client");
        destination.Send(session, new Deliver("s1", Message("ID:x-9"), 9, false, 1));
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.Null(frame["ack"]);

        await client.SendFrameAsync("ACK", H("message-id", "ID:x-9", "subscription", "s1"));
        Assert.Equal([9L], (await destination.ExpectMsgAsync<Ack>(Timeout)).DeliveryTags);
    }

    [Fact(DisplayName = "A STOMP 1.2 ACK whose id is the message-id instead of the ack header is still resolved")]
    public async Task Stomp12AckByMessageIdFallback()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client-individual");
        await DeliverAsync(client, session, destination, "s1", 5);

        await client.SendFrameAsync("ACK", H("id", "ID:m-5"));
        Assert.Equal([5L], (await destination.ExpectMsgAsync<Ack>(Timeout)).DeliveryTags);
    }

    [Fact(DisplayName = "Auto-ack deliveries are acknowledged to the core after the MESSAGE was written to the socket")]
    public async Task AutoAckAfterFlush()
    {
        var client = await ConnectAsync();
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "auto");
        destination.Send(session, new Deliver("s1", Message("ID:a-7"), 7, false, 1));

        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("ID:a-7", frame["message-id"]);
        Assert.Null(frame["ack"]);
        var ack = await destination.ExpectMsgAsync<Ack>(Timeout);
        Assert.Equal("s1", ack.SubscriptionId);
        Assert.Equal([7L], ack.DeliveryTags);
    }

    [Fact(DisplayName = "UNSUBSCRIBE goes to the destination, with RemoveDurable when it names the durable subscription")]
    public async Task UnsubscribeReachesDestination()
    {
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", Listener.Port, H("client-id", "c"), Timeout);
        Track(client);
        var (_, destination) = await SubscribeAsync(client, "d", "/topic/t", "auto", "activemq.subscriptionName", "dur");

        await client.SendFrameAsync("UNSUBSCRIBE", H("id", "d", "activemq.subscriptionName", "dur", "receipt", "u"));
        Assert.Equal(new Unsubscribe("d", RemoveDurable: true), await destination.ExpectMsgAsync<Unsubscribe>(Timeout));
        Assert.Equal("u", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }
}
