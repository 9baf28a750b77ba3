using ActorBroker.Stomp.Session;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class HeartBeatNegotiationTests
{
    [Theory(DisplayName = "Each direction runs at the larger of both offers, and is off when either side offers 0")]
    [InlineData(0, 0, 10000, 10000, 0, 0)]
    [InlineData(5000, 0, 10000, 10000, 0, 10000)]
    [InlineData(0, 5000, 10000, 10000, 10000, 0)]
    [InlineData(20000, 3000, 10000, 10000, 10000, 20000)]
    [InlineData(1000, 1000, 0, 4000, 0, 4000)]
    [InlineData(1000, 1000, 4000, 0, 4000, 0)]
    public void Negotiates(long cx, long cy, int sxMs, int syMs, int expectedServerSendsMs, int expectedClientSendsMs)
    {
        var agreement = HeartBeatNegotiation.Negotiate(cx, cy, TimeSpan.FromMilliseconds(sxMs), TimeSpan.FromMilliseconds(syMs), graceFactor: 1.5);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedServerSendsMs), agreement.ServerSendInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedClientSendsMs), agreement.ClientSendInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedClientSendsMs * 1.5), agreement.ClientSilenceTimeout);
    }

    [Theory(DisplayName = "The heart-beat header is two non-negative integers; absent means 0,0")]
    [InlineData(null, true, 0, 0)]
    [InlineData("0,0", true, 0, 0)]
    [InlineData("100, 2000", true, 100, 2000)]
    [InlineData("100", false, 0, 0)]
    [InlineData("-1,5", false, 0, 0)]
    [InlineData("a,b", false, 0, 0)]
    [InlineData(",5", false, 0, 0)]
    [InlineData("99999999999,1", false, 0, 0)]
    public void ParsesHeader(string? header, bool valid, long cx, long cy)
    {
        Assert.Equal(valid, HeartBeatNegotiation.TryParseHeader(header, out var canSend, out var wants));
        if (valid)
        {
            Assert.Equal(cx, canSend);
            Assert.Equal(cy, wants);
        }
    }
}
