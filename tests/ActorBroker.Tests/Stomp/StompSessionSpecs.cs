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

/// <summary>
/// The session over a real TCP socket to a <see cref="StompListener"/> on a free loopback port.
/// The broker manager and destinations are TestProbes, so each test scripts the core's replies.
/// "Nothing yet" is proven with a ping (BEGIN/ABORT with a receipt, answered at once): frames are
/// handled in order, so when the ping's RECEIPT is the next frame, an earlier receipt was withheld.
/// </summary>
public sealed class StompSessionSpecs : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly TestProbe _broker;
    private readonly List<StompListener> _listeners = [];
    private readonly List<StompTestClient> _clients = [];
    private StompListener _listener = null!;
    private int _pings;

    public StompSessionSpecs(ITestOutputHelper output)
        : base("akka.loglevel = INFO", output: output)
    {
        _broker = CreateTestProbe("broker-manager");
    }

    public async Task InitializeAsync() => _listener = await StartListenerAsync(BaseSettings);

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
        foreach (var listener in _listeners)
            await listener.StopAsync();
    }

    private static StompSettings BaseSettings { get; } = StompSettings.Create(ConfigurationFactory.ParseString(
        "actorbroker.stomp { port = 0, heartbeat { send-interval = 0s, receive-interval = 0s } }"));

    [Fact(DisplayName = "A SEND's RECEIPT is withheld until the broker confirms the message durable")]
    public async Task ReceiptOnlyAfterSendConfirmed()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/orders", "receipt", "r-1"), "payload");
        var (session, send) = await ExpectSendAsync();

        await PingAsync(client);

        session.Tell(new SendConfirmed(send.CorrelationId), _broker);
        var receipt = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("RECEIPT", receipt.Command);
        Assert.Equal("r-1", receipt["receipt-id"]);
    }

    [Fact(DisplayName = "A frame trickling in over many small TCP writes is reassembled into one SEND")]
    public async Task FragmentedFrameIsReassembled()
    {
        var client = await ConnectAsync();
        var bytes = Encode("SEND", H("destination", "/queue/slow", "receipt", "frag"), Encoding.UTF8.GetBytes("split body"));
        for (var offset = 0; offset < bytes.Length; offset += 3)
        {
            await client.SendRawAsync(bytes[offset..Math.Min(offset + 3, bytes.Length)]);
            await Task.Delay(1);
        }

        var (session, send) = await ExpectSendAsync();
        Assert.Equal("split body", Encoding.UTF8.GetString(send.Message.Body.Span));
        session.Tell(new SendConfirmed(send.CorrelationId), _broker);
        Assert.Equal("frag", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "SEND hands the broker its destination, persistence, user headers unchanged, body and a fresh message id")]
    public async Task SendMapsToBrokerMessage()
    {
        var client = await ConnectAsync();
        var body = new byte[] { 1, 0, 2 };
        await client.SendFrameAsync("SEND", H("destination", "/topic/prices", "persistent", "true", "receipt", "r", "custom", "a:b\nc", "content-type", "application/octet-stream"), body);
        await client.SendFrameAsync("SEND", H("destination", "/queue/q"), "x");

        var (_, first) = await ExpectSendAsync();
        var (_, second) = await ExpectSendAsync();
        Assert.Equal(Destination.Topic("prices"), first.Message.Destination);
        Assert.True(first.Message.Persistent);
        Assert.False(second.Message.Persistent);
        Assert.Equal([new("custom", "a:b\nc"), new("content-type", "application/octet-stream")], first.Message.Headers);
        Assert.Equal(body, first.Message.Body.ToArray());
        Assert.NotEqual(first.Message.MessageId, second.Message.MessageId);
        Assert.NotEqual(first.CorrelationId, second.CorrelationId);
    }

    [Fact(DisplayName = "A SEND the broker rejects ends in ERROR with the reason and the receipt id, then close")]
    public async Task SendRejectedIsError()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/full", "receipt", "r-9"), "x");
        var (session, send) = await ExpectSendAsync();

        session.Tell(new SendRejected(send.CorrelationId, "queue full"), _broker);

        await AssertErrorAndCloseAsync(client, "queue full", "r-9");
    }

    [Fact(DisplayName = "A frame before CONNECT is answered with ERROR and the connection is closed")]
    public async Task FrameBeforeConnect()
    {
        var client = await RawConnectAsync(_listener);
        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "receipt", "early"), "x");
        await AssertErrorAndCloseAsync(client, "before CONNECT", "early");
    }

    [Fact(DisplayName = "CONNECT picks the highest common version and answers with heart-beat, server and session")]
    public async Task ConnectNegotiatesVersion()
    {
        var client = await RawConnectAsync(_listener);
        await client.SendFrameAsync("CONNECT", H("accept-version", "1.0,1.1", "host", "broker", "login", "u", "passcode", "p"));

        var connected = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("CONNECTED", connected.Command);
        Assert.Equal("1.1", connected["version"]);
        Assert.Equal("0,0", connected["heart-beat"]);
        Assert.StartsWith("ActorBroker/", connected["server"]);
        Assert.False(string.IsNullOrEmpty(connected["session"]));
    }

    [Fact(DisplayName = "CONNECT without a common version is refused with ERROR listing the supported versions")]
    public async Task UnsupportedVersion()
    {
        var client = await RawConnectAsync(_listener);
        await client.SendFrameAsync("CONNECT", H("accept-version", "2.0,3.1", "host", "broker"));

        var error = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("ERROR", error.Command);
        Assert.Equal("1.0,1.1,1.2", error["version"]);
        Assert.True(await client.WaitForCloseAsync(Timeout));
    }

    [Fact(DisplayName = "CONNECTED reports the negotiated heart-beats: the larger offer per direction")]
    public async Task HeartBeatValuesInConnected()
    {
        var listener = await StartListenerAsync(BaseSettings with
        {
            HeartBeatSendInterval = TimeSpan.FromSeconds(1),
            HeartBeatReceiveInterval = TimeSpan.FromSeconds(2),
        });
        var (client, connected) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "3000,500"), Timeout);
        _clients.Add(client);

        Assert.Equal("1000,3000", connected["heart-beat"]);
    }

    [Theory(DisplayName = "Each bad input is answered with ERROR naming the cause, receipt-id when the frame had a receipt, then close")]
    [InlineData("SEND\nreceipt:r1\n\nx\0", "[destination]", "r1")]
    [InlineData("SEND\ndestination:/elsewhere/x\nreceipt:r2\n\n\0", "unsupported destination", "r2")]
    [InlineData("FROB\nreceipt:r3\n\n\0", "unknown command [FROB]", null)]
    [InlineData("SEND\ndestination:/queue/a\nbad:\\q\n\n\0", "escape", null)]
    [InlineData("SUBSCRIBE\nid:s\ndestination:/queue/a\nack:sometimes\nreceipt:r4\n\n\0", "ack [sometimes]", "r4")]
    [InlineData("SUBSCRIBE\nid:s\ndestination:/queue/a\nactivemq.prefetchSize:0\n\n\0", "activemq.prefetchSize [0]", null)]
    [InlineData("SUBSCRIBE\nid:d\ndestination:/topic/t\nactivemq.subscriptionName:dur\n\n\0", "client-id", null)]
    [InlineData("ACK\nid:nope\nreceipt:r5\n\n\0", "not an unacknowledged message", "r5")]
    [InlineData("COMMIT\ntransaction:t9\nreceipt:r6\n\n\0", "[t9] is not open", "r6")]
    [InlineData("BEGIN\ntransaction:t\n\n\0BEGIN\ntransaction:t\nreceipt:r7\n\n\0", "[t] is already open", "r7")]
    [InlineData("SEND\ndestination:/queue/a\ntransaction:none\nreceipt:r10\n\n\0", "[none] is not open", "r10")]
    [InlineData("UNSUBSCRIBE\nid:ghost\nreceipt:r8\n\n\0", "no subscription with id [ghost]", "r8")]
    [InlineData("CONNECT\naccept-version:1.2\n\n\0", "already connected", null)]
    [InlineData("MESSAGE\nreceipt:r11\n\n\0", "may not send [MESSAGE]", "r11")]
    [InlineData("SEND\ndestination:/queue/a\ncontent-length:1\n\nxy\0", "not followed by NUL", null)]
    public async Task BadInputIsErrorAndClose(string frames, string messagePart, string? receiptId)
    {
        var client = await ConnectAsync();
        await client.SendRawAsync(frames);
        await AssertErrorAndCloseAsync(client, messagePart, receiptId);
    }

    [Fact(DisplayName = "A client breaking the protocol does not disturb another connection")]
    public async Task OtherConnectionsUnaffected()
    {
        var good = await ConnectAsync();
        var bad = await ConnectAsync();

        await bad.SendRawAsync("GARBAGE\n\n\0");
        await AssertErrorAndCloseAsync(bad, "unknown command", null);

        await good.SendFrameAsync("SEND", H("destination", "/queue/a", "receipt", "still-fine"), "x");
        var (session, send) = await ExpectSendAsync();
        session.Tell(new SendConfirmed(send.CorrelationId), _broker);
        Assert.Equal("still-fine", (await good.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "Transactional SENDs are held until COMMIT, sent as one SendBatch per destination, receipt after every confirmation")]
    public async Task TransactionBuffersSends()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("BEGIN", H("transaction", "t1"));
        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "transaction", "t1"), "1");
        await client.SendFrameAsync("SEND", H("destination", "/queue/b", "transaction", "t1"), "2");
        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "transaction", "t1"), "3");
        await PingAsync(client);
        Assert.False(_broker.HasMessages, "nothing reaches the broker before COMMIT");

        await client.SendFrameAsync("COMMIT", H("transaction", "t1", "receipt", "c1"));
        var first = await _broker.ExpectMsgAsync<SendBatch>(Timeout);
        var session = _broker.LastSender;
        var second = await _broker.ExpectMsgAsync<SendBatch>(Timeout);
        Assert.Equal(Destination.Queue("a"), first.Destination);
        Assert.Equal(["1", "3"], first.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(Destination.Queue("b"), second.Destination);
        Assert.Single(second.Messages);

        session.Tell(new SendConfirmed(first.CorrelationId), _broker);
        await PingAsync(client);
        session.Tell(new SendConfirmed(second.CorrelationId), _broker);
        Assert.Equal("c1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "ABORT discards the transaction's SENDs; the transaction is gone afterwards")]
    public async Task AbortDiscards()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("BEGIN", H("transaction", "t2"));
        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "transaction", "t2"), "lost");
        await client.SendFrameAsync("ABORT", H("transaction", "t2", "receipt", "a2"));
        Assert.Equal("a2", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        Assert.False(_broker.HasMessages);

        await client.SendFrameAsync("COMMIT", H("transaction", "t2", "receipt", "c2"));
        await AssertErrorAndCloseAsync(client, "[t2] is not open", "c2");
        Assert.False(_broker.HasMessages);
    }

    [Fact(DisplayName = "A transaction buffering more than max-transaction-frames is refused with ERROR and close")]
    public async Task TransactionIsBounded()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxTransactionFrames = 2 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        _clients.Add(client);
        await client.SendFrameAsync("BEGIN", H("transaction", "t"));
        for (var i = 1; i <= 3; i++)
            await client.SendFrameAsync("SEND", H("destination", "/queue/a", "transaction", "t", "receipt", "s" + i), "x");

        Assert.Equal("s1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        Assert.Equal("s2", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        await AssertErrorAndCloseAsync(client, "max-transaction-frames [2]", "s3");
        Assert.False(_broker.HasMessages);
    }

    [Fact(DisplayName = "MESSAGE carries subscription, message-id, destination, ack, redelivered, persistent, timestamp, user headers and the exact body")]
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
        Assert.Equal("true", frame["persistent"]);
        Assert.Equal("1700000000000", frame["timestamp"]);
        Assert.Equal("x:y", frame["custom"]);
        Assert.Equal("text/plain", frame["content-type"]);
        Assert.Equal("3", frame["content-length"]);
        Assert.Equal(body, frame.Body);
    }

    [Fact(DisplayName = "SUBSCRIBE passes id, destination, ack mode, prefetch and the durable name; its receipt waits for SubscribeConfirmed")]
    public async Task SubscribeMapsToCore()
    {
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", _listener.Port, H("client-id", "app-1"), Timeout);
        _clients.Add(client);
        await client.SendFrameAsync("SUBSCRIBE", H("id", "d1", "destination", "/topic/news", "ack", "client-individual",
            "activemq.prefetchSize", "7", "activemq.subscriptionName", "news-feed", "receipt", "sub-1"));

        var subscribe = await _broker.ExpectMsgAsync<Subscribe>(Timeout);
        var session = _broker.LastSender;
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
        var client = await RawConnectAsync(_listener);
        await client.SendFrameAsync("CONNECT", H("accept-version", "1.1", "host", "b"));
        Assert.Equal("1.1", (await client.ReceiveFrameAsync(Timeout))["version"]);
        var (session, destination) = await SubscribeAsync(client, "s1", "/queue/q", "client");
        destination.Send(session, new Deliver("s1", Message("ID:x-9"), 9, false, 1));
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.Null(frame["ack"]);

        await client.SendFrameAsync("ACK", H("message-id", "ID:x-9", "subscription", "s1"));
        Assert.Equal([9L], (await destination.ExpectMsgAsync<Ack>(Timeout)).DeliveryTags);
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
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", _listener.Port, H("client-id", "c"), Timeout);
        _clients.Add(client);
        var (_, destination) = await SubscribeAsync(client, "d", "/topic/t", "auto", "activemq.subscriptionName", "dur");

        await client.SendFrameAsync("UNSUBSCRIBE", H("id", "d", "activemq.subscriptionName", "dur", "receipt", "u"));
        Assert.Equal(new Unsubscribe("d", RemoveDurable: true), await destination.ExpectMsgAsync<Unsubscribe>(Timeout));
        Assert.Equal("u", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "DISCONNECT's receipt waits until every earlier SEND is confirmed, then the server closes")]
    public async Task DisconnectWaitsForConfirmations()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "1");
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "2");
        var (session, first) = await ExpectSendAsync();
        var (_, second) = await ExpectSendAsync();
        await client.SendFrameAsync("DISCONNECT", H("receipt", "bye"));

        session.Tell(new SendConfirmed(first.CorrelationId), _broker);
        Assert.Null(await client.TryReceiveFrameAsync(TimeSpan.FromMilliseconds(300)));

        session.Tell(new SendConfirmed(second.CorrelationId), _broker);
        Assert.Equal("bye", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        Assert.True(await client.WaitForCloseAsync(Timeout));
    }

    [Fact(DisplayName = "Closing the socket stops the session actor, so destinations see it terminate")]
    public async Task SocketCloseStopsSession()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "x");
        var (session, _) = await ExpectSendAsync();
        var watcher = CreateTestProbe();
        watcher.Watch(session);

        await client.DisposeAsync();

        await watcher.ExpectTerminatedAsync(session, Timeout);
    }

    [Fact(DisplayName = "A client silent longer than its heart-beat interval times the grace factor gets ERROR and is disconnected")]
    public async Task SilentClientTimesOut()
    {
        var listener = await StartListenerAsync(BaseSettings with
        {
            HeartBeatReceiveInterval = TimeSpan.FromMilliseconds(100),
            HeartBeatGraceFactor = 2.0,
        });
        var (client, connected) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "100,0"), Timeout);
        _clients.Add(client);
        Assert.Equal("0,100", connected["heart-beat"]);

        await AssertErrorAndCloseAsync(client, "no data from the client", null);
    }

    [Fact(DisplayName = "A client that heart-beats in time stays connected past its timeout")]
    public async Task HeartBeatingClientStays()
    {
        var listener = await StartListenerAsync(BaseSettings with
        {
            HeartBeatReceiveInterval = TimeSpan.FromMilliseconds(100),
            HeartBeatGraceFactor = 3.0,
        });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "100,0"), Timeout);
        _clients.Add(client);

        for (var i = 0; i < 12; i++)
        {
            await client.SendRawAsync("\n");
            await Task.Delay(50);
        }

        await PingAsync(client);
    }

    [Fact(DisplayName = "The server sends heart-beat EOLs to a client that asked for them")]
    public async Task ServerSendsHeartBeats()
    {
        var listener = await StartListenerAsync(BaseSettings with { HeartBeatSendInterval = TimeSpan.FromMilliseconds(50) });
        var (client, connected) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "0,50"), Timeout);
        _clients.Add(client);
        Assert.Equal("50,0", connected["heart-beat"]);

        var deadline = DateTime.UtcNow + Timeout;
        while (client.HeartBeatsReceived < 3 && DateTime.UtcNow < deadline)
            Assert.Null(await client.TryReceiveFrameAsync(TimeSpan.FromMilliseconds(100)));
        Assert.True(client.HeartBeatsReceived >= 3, $"heart-beats received: {client.HeartBeatsReceived}");
    }

    [Fact(DisplayName = "At max-inflight-sends unconfirmed SENDs the server stops reading until the broker confirms one")]
    public async Task BackPressureOnSends()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxInflightSends = 2 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        _clients.Add(client);
        for (var i = 1; i <= 3; i++)
            await client.SendFrameAsync("SEND", H("destination", "/queue/a"), i.ToString());

        var (session, first) = await ExpectSendAsync();
        await ExpectSendAsync();
        await _broker.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));

        session.Tell(new SendConfirmed(first.CorrelationId), _broker);
        var (_, third) = await ExpectSendAsync();
        Assert.Equal("3", Encoding.UTF8.GetString(third.Message.Body.Span));
    }

    [Fact(DisplayName = "A frame over max-frame-size is refused with ERROR and close")]
    public async Task FrameTooLarge()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxFrameSize = 2048 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        _clients.Add(client);

        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "receipt", "big"), new byte[4096]);

        await AssertErrorAndCloseAsync(client, "max-frame-size [2048]", null);
    }

    [Fact(DisplayName = "A connection that sends no CONNECT within connect-timeout gets ERROR and is closed")]
    public async Task ConnectTimeout()
    {
        var listener = await StartListenerAsync(BaseSettings with { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        var client = await RawConnectAsync(listener);
        await AssertErrorAndCloseAsync(client, "no CONNECT frame within connect-timeout", null);
    }

    [Fact(DisplayName = "Stopping the listener aborts live connections and refuses new ones")]
    public async Task StopAbortsConnections()
    {
        var listener = await StartListenerAsync(BaseSettings);
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        _clients.Add(client);

        await listener.StopAsync();

        Assert.True(await client.WaitForCloseAsync(Timeout));
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => StompTestClient.ConnectAsync("127.0.0.1", listener.Port, Timeout));
    }

    // ---- helpers -------------------------------------------------------------------------------

    private async Task<StompListener> StartListenerAsync(StompSettings settings)
    {
        var listener = await StompListener.StartAsync(settings, Sys, _broker, NullLoggerFactory.Instance);
        _listeners.Add(listener);
        return listener;
    }

    private async Task<StompTestClient> RawConnectAsync(StompListener listener)
    {
        var client = await StompTestClient.ConnectAsync("127.0.0.1", listener.Port, Timeout);
        _clients.Add(client);
        return client;
    }

    private async Task<StompTestClient> ConnectAsync()
    {
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", _listener.Port, null, Timeout);
        _clients.Add(client);
        return client;
    }

    private async Task<(IActorRef Session, Send Send)> ExpectSendAsync()
    {
        var send = await _broker.ExpectMsgAsync<Send>(Timeout);
        return (_broker.LastSender, send);
    }

    /// <summary>Proves every earlier frame was handled and no frame was written in between: the ping's RECEIPT must be next.</summary>
    private async Task PingAsync(StompTestClient client)
    {
        var id = "ping-" + ++_pings;
        await client.SendFrameAsync("BEGIN", H("transaction", id));
        await client.SendFrameAsync("ABORT", H("transaction", id, "receipt", id));
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.True(frame.Command == "RECEIPT" && frame["receipt-id"] == id, $"expected the RECEIPT of {id} next, got {frame}");
    }

    private async Task<(IActorRef Session, TestProbe Destination)> SubscribeAsync(StompTestClient client, string id, string destination, string ack, params string[] extraHeaders)
    {
        await client.SendFrameAsync("SUBSCRIBE", H(["id", id, "destination", destination, "ack", ack, .. extraHeaders]));
        var subscribe = await _broker.ExpectMsgAsync<Subscribe>(Timeout);
        Assert.Equal(id, subscribe.SubscriptionId);
        var session = _broker.LastSender;
        var destinationProbe = CreateTestProbe();
        destinationProbe.Send(session, new SubscribeConfirmed(id));
        return (session, destinationProbe);
    }

    /// <summary>Delivers one message per tag and returns the MESSAGE frames' ack ids in order.</summary>
    private static async Task<string[]> DeliverAsync(StompTestClient client, IActorRef session, TestProbe destination, string subscriptionId, params long[] tags)
    {
        foreach (var tag in tags)
            destination.Send(session, new Deliver(subscriptionId, Message("ID:m-" + tag), tag, false, 1));
        var ackIds = new string[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            var frame = await client.ReceiveFrameAsync(Timeout);
            Assert.Equal("ID:m-" + tags[i], frame["message-id"]);
            ackIds[i] = frame["ack"] ?? throw new InvalidOperationException($"MESSAGE without ack header: {frame}");
        }

        return ackIds;
    }

    private static BrokerMessage Message(string id) =>
        new(id, Destination.Queue("q"), false, 0, [], Encoding.UTF8.GetBytes("body of " + id));

    private static async Task AssertErrorAndCloseAsync(StompTestClient client, string messagePart, string? receiptId)
    {
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.True(frame.Command == "ERROR", $"expected ERROR, got {frame}");
        Assert.Contains(messagePart, frame["message"]);
        Assert.Equal(receiptId, frame["receipt-id"]);
        Assert.True(await client.WaitForCloseAsync(Timeout), "the server closes the connection after ERROR");
    }
}
