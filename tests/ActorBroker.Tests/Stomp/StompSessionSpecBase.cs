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
public abstract class StompSessionSpecBase : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly List<StompListener> _listeners = [];
    private readonly List<StompTestClient> _clients = [];
    private int _pings;

    protected StompSessionSpecBase(ITestOutputHelper output)
        : base("akka.loglevel = INFO", output: output)
    {
        Broker = CreateTestProbe("broker-manager");
    }

    /// <summary>The broker manager every session of this spec talks to; tests script its replies.</summary>
    protected TestProbe Broker { get; }

    /// <summary>A listener with <see cref="BaseSettings"/>, started before each test.</summary>
    protected StompListener Listener { get; private set; } = null!;

    public async Task InitializeAsync() => Listener = await StartListenerAsync(BaseSettings);

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
            await client.DisposeAsync();
        foreach (var listener in _listeners)
            await listener.StopAsync();
    }

    protected static StompSettings BaseSettings { get; } = StompSettings.Create(ConfigurationFactory.ParseString(
        "actorbroker.stomp { port = 0, heartbeat { send-interval = 0s, receive-interval = 0s } }"));

    // ---- helpers -------------------------------------------------------------------------------

    /// <summary>Closes the client when the test ends.</summary>
    protected StompTestClient Track(StompTestClient client)
    {
        _clients.Add(client);
        return client;
    }

    protected async Task<StompListener> StartListenerAsync(StompSettings settings)
    {
        var listener = await StompListener.StartAsync(settings, Sys, Broker, NullLoggerFactory.Instance);
        _listeners.Add(listener);
        return listener;
    }

    protected async Task<StompTestClient> RawConnectAsync(StompListener listener)
    {
        var client = await StompTestClient.ConnectAsync("127.0.0.1", listener.Port, Timeout);
        _clients.Add(client);
        return client;
    }

    protected async Task<StompTestClient> ConnectAsync()
    {
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", Listener.Port, null, Timeout);
        _clients.Add(client);
        return client;
    }

    protected async Task<(IActorRef Session, Send Send)> ExpectSendAsync()
    {
        var send = await Broker.ExpectMsgAsync<Send>(Timeout);
        return (Broker.LastSender, send);
    }

    /// <summary>Proves every earlier frame was handled and no frame was written in between: the ping's RECEIPT must be next.</summary>
    protected async Task PingAsync(StompTestClient client)
    {
        var id = "ping-" + ++_pings;
        await client.SendFrameAsync("BEGIN", H("transaction", id));
        await client.SendFrameAsync("ABORT", H("transaction", id, "receipt", id));
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.True(frame.Command == "RECEIPT" && frame["receipt-id"] == id, $"expected the RECEIPT of {id} next, got {frame}");
    }

    protected async Task<(IActorRef Session, TestProbe Destination)> SubscribeAsync(StompTestClient client, string id, string destination, string ack, params string[] extraHeaders)
    {
        await client.SendFrameAsync("SUBSCRIBE", H(["id", id, "destination", destination, "ack", ack, .. extraHeaders]));
        var subscribe = await Broker.ExpectMsgAsync<Subscribe>(Timeout);
        Assert.Equal(id, subscribe.SubscriptionId);
        var session = Broker.LastSender;
        var destinationProbe = CreateTestProbe();
        destinationProbe.Send(session, new SubscribeConfirmed(id));
        return (session, destinationProbe);
    }

    /// <summary>Delivers one message per tag and returns the MESSAGE frames' ack ids in order.</summary>
    protected static async Task<string[]> DeliverAsync(StompTestClient client, IActorRef session, TestProbe destination, string subscriptionId, params long[] tags)
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

    protected static BrokerMessage Message(string id) =>
        new(id, Destination.Queue("q"), false, 0, [], Encoding.UTF8.GetBytes("body of " + id));

    protected static async Task AssertErrorAndCloseAsync(StompTestClient client, string messagePart, string? receiptId)
    {
        var frame = await client.ReceiveFrameAsync(Timeout);
        Assert.True(frame.Command == "ERROR", $"expected ERROR, got {frame}");
        Assert.Contains(messagePart, frame["message"]);
        Assert.Equal(receiptId, frame["receipt-id"]);
        Assert.True(await client.WaitForCloseAsync(Timeout), "the server closes the connection after ERROR");
    }
}
