using ActorBroker.Core.Protocol;
using ActorBroker.Stomp.Session;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class ClientAckTrackerTests
{
    [Fact(DisplayName = "In client mode an ACK covers the named delivery and every earlier one of the same subscription only")]
    public void ClientModeIsCumulativePerSubscription()
    {
        var tracker = new ClientAckTracker();
        tracker.Track("s1", AckMode.Client, "a1", "m1", 11);
        tracker.Track("s2", AckMode.Client, "a2", "m2", 21);
        tracker.Track("s1", AckMode.Client, "a3", "m3", 12);
        tracker.Track("s1", AckMode.Client, "a4", "m4", 13);

        Assert.Equal([11L, 12L], tracker.Take("s1", "a3"));
        Assert.Equal([13L], tracker.Take("s1", "a4"));
        Assert.True(tracker.TryFindByAckId("a2", out var subscription));
        Assert.Equal("s2", subscription);
        Assert.Equal(1, tracker.Count);
    }

    [Fact(DisplayName = "In client-individual mode an ACK covers only the named delivery")]
    public void ClientIndividualIsSingle()
    {
        var tracker = new ClientAckTracker();
        tracker.Track("s", AckMode.ClientIndividual, "a1", "m1", 1);
        tracker.Track("s", AckMode.ClientIndividual, "a2", "m2", 2);
        tracker.Track("s", AckMode.ClientIndividual, "a3", "m3", 3);

        Assert.Equal([2L], tracker.Take("s", "a2"));
        Assert.Equal([1L], tracker.Take("s", "a1"));
        Assert.Empty(tracker.Take("s", "a2"));
        Assert.Equal(1, tracker.Count);
    }

    [Fact(DisplayName = "STOMP 1.0/1.1 acks find deliveries by message-id, within a subscription when it is named")]
    public void FindsByMessageId()
    {
        var tracker = new ClientAckTracker();
        tracker.Track("s1", AckMode.Client, "a1", "m1", 1);
        tracker.Track("s2", AckMode.Client, "a2", "m1", 2);

        Assert.True(tracker.TryFindByMessageId("m1", "s2", out var subscription, out var ackId));
        Assert.Equal(("s2", "a2"), (subscription, ackId));
        Assert.True(tracker.TryFindByMessageId("m1", null, out _, out _));
        Assert.False(tracker.TryFindByMessageId("m9", null, out _, out _));
    }

    [Fact(DisplayName = "Removing a subscription forgets its outstanding deliveries")]
    public void RemoveSubscription()
    {
        var tracker = new ClientAckTracker();
        tracker.Track("s1", AckMode.Client, "a1", "m1", 1);
        tracker.RemoveSubscription("s1");

        Assert.False(tracker.TryFindByAckId("a1", out _));
        Assert.Equal(0, tracker.Count);
    }
}
