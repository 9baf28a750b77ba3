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

/// <summary>Heart-beating: negotiated values, server heart-beats, silent-client timeout, no timeout while the server throttles.</summary>
public sealed class StompHeartBeatSpecs : StompSessionSpecBase
{
    public StompHeartBeatSpecs(ITestOutputHelper output)
        : base(output)
    {
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
        Track(client);

        Assert.Equal("1000,3000", connected["heart-beat"]);
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
        Track(client);
        Assert.Equal("0,100", connected["heart-beat"]);

        await AssertErrorAndCloseAsync(client, "no data from the client", null);
    }

    [Fact(DisplayName = "A client that heart-beats in time stays connected past its timeout")]
    public async Task HeartBeatingClientStays()
    {
        var listener = await StartListenerAsync(BaseSettings with
        {
            HeartBeatReceiveInterval = TimeSpan.FromMilliseconds(100),
            HeartBeatGraceFactor = 10.0, // a 1 s timeout: generous on a loaded machine
        });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "100,0"), Timeout);
        Track(client);

        for (var i = 0; i < 30; i++) // 1.5 s of heart-beats, longer than the timeout
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
        Track(client);
        Assert.Equal("50,0", connected["heart-beat"]);

        var deadline = DateTime.UtcNow + Timeout;
        while (client.HeartBeatsReceived < 3 && DateTime.UtcNow < deadline)
            Assert.Null(await client.TryReceiveFrameAsync(TimeSpan.FromMilliseconds(100)));
        Assert.True(client.HeartBeatsReceived >= 3, $"heart-beats received: {client.HeartBeatsReceived}");
    }

    [Fact(DisplayName = "A heart-beating client is not timed out while the server itself stopped reading it for back-pressure")]
    public async Task ThrottledClientIsNotTimedOut()
    {
        var listener = await StartListenerAsync(BaseSettings with
        {
            MaxInflightSends = 1,
            HeartBeatReceiveInterval = TimeSpan.FromMilliseconds(100),
            HeartBeatGraceFactor = 5.0, // 500 ms timeout, well under the 1 s the server stays paused
        });
        var (client, _) = await StompTestClient.ConnectStompAsync("127.0.0.1", listener.Port, H("heart-beat", "100,0"), Timeout);
        Track(client);
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "1");
        await client.SendFrameAsync("SEND", H("destination", "/queue/a"), "2");
        var (session, first) = await ExpectSendAsync();

        for (var i = 0; i < 20; i++)
        {
            await client.SendRawAsync("\n");
            await Task.Delay(50);
        }

        Assert.False(Broker.HasMessages, "the second SEND waits for a permit");
        session.Tell(new SendConfirmed(first.CorrelationId), Broker);
        await ExpectSendAsync();
        await PingAsync(client);
    }
}
