using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

/// <summary>A queue stopped and started again (same persistence id) has the same messages, previously delivered ones flagged.</summary>
public sealed class RecoverySpec : CoreSpec
{
    private static readonly Destination Orders = Destination.Queue("orders");

    public RecoverySpec(ITestOutputHelper output) : base(output)
    {
        // A window of 1 makes the dispatch mark exact, so the redelivered flags below are predictable.
        Settings = BrokerSettings.Create(ConfigurationFactory.ParseString("""
            actorbroker.broker.redelivery-mark-window = 1
            actorbroker.broker.snapshot-every = 3
            """));
    }

    [Fact(DisplayName = "A restarted queue recovers persistent messages from the journal and flags the delivered one redelivered")]
    public void RecoversFromJournal()
    {
        var settings = Settings with { SnapshotEvery = 1000 };
        var queue = Sys.ActorOf(Queue.Props("orders", settings));
        var (before, after, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, producer, Message(Orders, "1"));
        SendConfirmed(queue, producer, Message(Orders, "2"));
        SendConfirmed(queue, producer, Message(Orders, "volatile", persistent: false));
        SendConfirmed(queue, producer, Message(Orders, "3"));
        Subscribe(queue, before, Orders, "s", prefetch: 1);
        ExpectDeliver(before, "1");

        StopAndWait(queue);
        var restarted = Sys.ActorOf(Queue.Props("orders", settings));
        Subscribe(restarted, after, Orders, "s", prefetch: 10);

        var deliveries = after.ReceiveN(3, Timeout).Cast<Deliver>().ToList();
        Assert.Equal(["1", "2", "3"], deliveries.Select(BodyOf));
        Assert.Equal([true, false, false], deliveries.Select(d => d.Redelivered));
        Assert.Equal(2, deliveries[0].DeliveryCount);
        after.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "A restarted queue recovers from its snapshot after the journal was truncated up to it")]
    public void RecoversFromSnapshot()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var (before, after, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        foreach (var body in new[] { "1", "2", "3", "4" }) SendConfirmed(queue, producer, Message(Orders, body));
        var subscription = Subscribe(queue, before, Orders, "s", prefetch: 2);
        var first = ExpectDeliver(before, "1");
        ExpectDeliver(before, "2");
        subscription.Tell(new Ack("s", [first.DeliveryTag], 1), before.Ref);
        var replies = before.ReceiveN(2, Timeout);
        Assert.Contains(replies, r => r is Deliver d && BodyOf(d) == "3");

        // Events: 4 enqueues, marks 1 and 2, the removal of 1, mark 3. Snapshots after the 3rd and 6th event
        // delete what they cover, so every enqueue is gone from the journal: recovery must use the snapshot.
        var persistenceId = Queue.PersistenceIdFor("orders");
        AwaitAssert(() => Assert.DoesNotContain(JournalEvents(persistenceId), e => e is MessagesEnqueued),
            Timeout, TimeSpan.FromMilliseconds(50));

        StopAndWait(queue);
        var restarted = Sys.ActorOf(Queue.Props("orders", Settings));
        Subscribe(restarted, after, Orders, "s", prefetch: 10);

        var deliveries = after.ReceiveN(3, Timeout).Cast<Deliver>().ToList();
        Assert.Equal(["2", "3", "4"], deliveries.Select(BodyOf));
        Assert.Equal([true, true, false], deliveries.Select(d => d.Redelivered));
        after.ExpectNoMsg(Quiet);
    }
}
