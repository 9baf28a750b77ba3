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

/// <summary>Connecting, protocol errors and connection lifecycle: ERROR + close per bad input, isolation between connections, listener stop.</summary>
public sealed class StompConnectionSpecs : StompSessionSpecBase
{
    public StompConnectionSpecs(ITestOutputHelper output)
        : base(output)
    {
    }

    [Fact(DisplayName = "A frame before CONNECT is answered with ERROR and the connection is closed")]
    public async Task FrameBeforeConnect()
    {
        var client = await RawConnectAsync(Listener);
        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "receipt", "early"), "x");
        await AssertErrorAndCloseAsync(client, "before CONNECT", "early");
    }

    [Fact(DisplayName = "CONNECT picks the highest common version and answers with heart-beat, server and session")]
    public async Task ConnectNegotiatesVersion()
    {
        var client = await RawConnectAsync(Listener);
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
        var client = await RawConnectAsync(Listener);
        await client.SendFrameAsync("CONNECT", H("accept-version", "2.0,3.1", "host", "broker"));

        var error = await client.ReceiveFrameAsync(Timeout);
        Assert.Equal("ERROR", error.Command);
        Assert.Equal("1.0,1.1,1.2", error["version"]);
        Assert.True(await client.WaitForCloseAsync(Timeout));
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
        session.Tell(new SendConfirmed(send.CorrelationId), Broker);
        Assert.Equal("still-fine", (await good.ReceiveFrameAsync(Timeout))["receipt-id"]);
    }

    [Fact(DisplayName = "The test client's receipt and DISCONNECT helpers work against the server")]
    public async Task TestClientHelpers()
    {
        var client = await ConnectAsync();
        var sending = client.SendAndAwaitReceiptAsync("SEND", H("destination", "/queue/a"), "x"u8.ToArray(), Timeout);
        var (session, send) = await ExpectSendAsync();
        session.Tell(new SendConfirmed(send.CorrelationId), Broker);
        Assert.Equal("RECEIPT", (await sending).Command);

        await client.DisconnectAsync(Timeout);
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

    [Fact(DisplayName = "DISCONNECT's receipt waits until every earlier SEND is confirmed, then the server closes")]
    public async Task DisconnectWaitsForConfirmations()
    {
        var client = await ConnectAsync();
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "1");
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "2");
        var (session, first) = await ExpectSendAsync();
        var (_, second) = await ExpectSendAsync();
        await client.SendFrameAsync("DISCONNECT", H("receipt", "bye"));

        session.Tell(new SendConfirmed(first.CorrelationId), Broker);
        Assert.Null(await client.TryReceiveFrameAsync(TimeSpan.FromMilliseconds(300)));

        session.Tell(new SendConfirmed(second.CorrelationId), Broker);
        Assert.Equal("bye", (await client.ReceiveFrameAsync(Timeout))["receipt-id"]);
        Assert.True(await client.WaitForCloseAsync(Timeout));
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
        Track(client);

        await listener.StopAsync();

        Assert.True(await client.WaitForCloseAsync(Timeout));
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => StompTestClient.ConnectAsync("127.0.0.1", listener.Port, Timeout));
    }

    [Fact(DisplayName = "A frame over max-frame-size is refused with ERROR and close")]
    public async Task FrameTooLarge()
    {
        var listener = await StartListenerAsync(BaseSettings with { MaxFrameSize = 2048 });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, null, Timeout);
        Track(client);

        await client.SendFrameAsync("SEND", H("destination", "/queue/a", "receipt", "big"), new byte[4096]);

        await AssertErrorAndCloseAsync(client, "max-frame-size [2048]", null);
    }
}
