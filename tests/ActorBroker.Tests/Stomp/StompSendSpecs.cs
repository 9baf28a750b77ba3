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

/// <summary>Producing: SEND to the core, receipts only after confirmation, transactions, back-pressure.</summary>
public sealed class StompSendSpecs : StompSessionSpecBase
{
    public StompSendSpecs(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact(DisplayName = "A SEND's RECEIPT is withheld until the broker confirms the message durable")]
    public async Task ReceiptOnlyAfterSendConfirmed()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/orders", "receipt", "r-1"), "payload");
        var (session, send) = await ExpectSendAsync();

        await PingAsync(client);

        session.Tell(new SendConfirmed(send.CorrelationId), Broker);
        var receipt = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("RECEIPT", receipt.Command);
        Assert.Equal("r-1", receipt["receipt-id"]);
    }

    [Fact(DisplayName = "Many concurrent connections each get exactly their own receipts for pipelined SENDs")]
    public async Task ConcurrentConnectionsGetTheirOwnReceipts()
    {
        var broker = Sys.ActorOf(Props.Create(() => new AutoConfirmingBroker()));
        var listener = await StompListener.StartAsync(BaseSettings with { MaxInflightSends = 8 }, Sys, broker, NullLoggerFactory.Instance);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 20).Select(async c =>
            {
                var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
                await using var _ = client;
                var expected = Enumerable.Range(0, 50).Select(i => $"c{c}-r{i}").ToHashSet();
                foreach (var receipt in expected)
                    await client.SendFrameAsync("SEND", H("destination", "/queue/load", "receipt", receipt), receipt);

                var received = new HashSet<string>();
                while (received.Count < expected.Count)
                {
                    var frame = await client.ReceiveFrameAsync(Timeout);
                    Assert.Equal("RECEIPT", frame.Command);
                    Assert.True(received.Add(frame["receipt-id"]!), $"duplicate receipt {frame}");
                }

                Assert.Equal(expected, received);
            }));
        }
        finally
        {
            await listener.StopAsync();
        }
    }

    /// <summary>Confirms every Send at once, like a broker with an instant journal.</summary>
    private sealed class AutoConfirmingBroker : ReceiveActor
    {
        public AutoConfirmingBroker() => Receive<Send>(send => Sender.Tell(new SendConfirmed(send.CorrelationId)));
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
        session.Tell(new SendConfirmed(send.CorrelationId), Broker);
        Assert.Equal("frag", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "SEND hands the broker its destination, persistence, user headers unchanged, body and a fresh message id")]
    public async Task SendMapsToBrokerMessage()
    {
        var client = await ConnectAsync();
        var body = new byte[] { 1, 0, 2 };
        await client.SendFrameAsync("SEND", H("destination", "/topic/prices", "persistent", "true", "receipt", "r", "custom", "a:b\nc", "content-type", "application/octet-stream", "JMSXDeliveryCount", "9"), body);
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

        session.Tell(new SendRejected(send.CorrelationId, "queue full"), Broker);

        await AssertErrorAndCloseAsync(client, "queue full", "r-9");
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
        Assert.False(Broker.HasMessages, "nothing reaches the broker before COMMIT");

        await client.SendFrameAsync("COMMIT", H("transaction", "t1", "receipt", "c1"));
        var first = await Broker.ExpectMsgAsync<SendBatch>(Timeout);
        var session = Broker.LastSender;
        var second = await Broker.ExpectMsgAsync<SendBatch>(Timeout);
        Assert.Equal(Destination.Queue("a"), first.Destination);
        Assert.Equal(["1", "3"], first.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.Equal(Destination.Queue("b"), second.Destination);
        Assert.Single(second.Messages);

        session.Tell(new SendConfirmed(first.CorrelationId), Broker);
        await PingAsync(client);
        session.Tell(new SendConfirmed(second.CorrelationId), Broker);
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
        Assert.False(Broker.HasMessages);

        await client.SendFrameAsync("COMMIT", H("transaction", "t2", "receipt", "c2"));
        await AssertErrorAndCloseAsync(client, "[t2] is not open", "c2");
        Assert.False(Broker.HasMessages);
    }

    [Fact(DisplayName = "A transaction buffering more than max-transaction-frames is refused with ERROR and close")]
    public async Task TransactionIsBounded()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxTransactionFrames = 2 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        Track(client);
        await client.SendFrameAsync("BEGIN", H("transaction", "t"));
        for (var i = 1; i <= 3; i++)
            await client.SendFrameAsync("SEND", H("destination", "/queue/a", "transaction", "t", "receipt", "s" + i), "x");

        Assert.Equal("s1", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        Assert.Equal("s2", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        await AssertErrorAndCloseAsync(client, "max-transaction-frames [2]", "s3");
        Assert.False(Broker.HasMessages);
    }

    [Fact(DisplayName = "At max-inflight-sends unconfirmed SENDs the server stops reading until the broker confirms one")]
    public async Task BackPressureOnSends()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxInflightSends = 2 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        Track(client);
        for (var i = 1; i <= 3; i++)
            await client.SendFrameAsync("SEND", H("destination", "/queue/a"), i.ToString());

        var (session, first) = await ExpectSendAsync();
        await ExpectSendAsync();
        await Broker.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));

        session.Tell(new SendConfirmed(first.CorrelationId), Broker);
        var (_, third) = await ExpectSendAsync();
        Assert.Equal("3", Encoding.UTF8.GetString(third.Message.Body.Span));
    }
}
