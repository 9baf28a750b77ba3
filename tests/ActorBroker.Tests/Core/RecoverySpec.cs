using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

/// <summary>
/// A queue stopped and started again (same persistence id) has the same messages, previously delivered ones flagged
/// redelivered and still counting their deliveries.
/// </summary>
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

    [Fact(DisplayName = "A message NACKed twice counts on after a restart: the delivery in flight at the stop counts, so the next is the 4th")]
    public void DeliveryCountSurvivesRestart()
    {
        var settings = Settings with { SnapshotEvery = 1000 };
        var queue = Sys.ActorOf(Queue.Props("orders", settings));
        var (before, after, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, producer, Message(Orders, "p"));
        Subscribe(queue, before, Orders, "s", prefetch: 1);
        var first = ExpectDeliver(before, "p");
        var second = NackAndExpectRedelivery(queue, before, first);
        var third = NackAndExpectRedelivery(queue, before, second);
        Assert.Equal([1, 2, 3], new[] { first, second, third }.Select(d => d.DeliveryCount));
        // One small event per redelivery, none per first delivery beyond the dispatch mark.
        Assert.Equal(2, JournalEvents(Queue.PersistenceIdFor("orders")).OfType<MessagesRedelivered>().Count());

        StopAndWait(queue);
        var restarted = Sys.ActorOf(Queue.Props("orders", settings));
        Subscribe(restarted, after, Orders, "s", prefetch: 10);

        var fourth = ExpectDeliver(after, "p");
        Assert.True(fourth.Redelivered);
        Assert.Equal(4, fourth.DeliveryCount);
    }

    [Fact(DisplayName = "A redelivered message whose consumer left is not counted twice: NACK, consumer gone, restart from the snapshot, the next delivery is the 3rd")]
    public void ReturnedRedeliveryCountsOnceAfterRestartFromSnapshot()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var (before, after, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, producer, Message(Orders, "p"));
        Subscribe(queue, before, Orders, "s", prefetch: 1);
        var second = NackAndExpectRedelivery(queue, before, ExpectDeliver(before, "p"));
        Assert.Equal(2, second.DeliveryCount);
        StopAndWait(before.Ref); // its delivery goes back to the head, unacknowledged

        // Events: the enqueue, the mark, the redelivery; the snapshot after the 3rd deletes them all,
        // so the redelivery count must come from the snapshot.
        var persistenceId = Queue.PersistenceIdFor("orders");
        AwaitAssert(() => Assert.Empty(JournalEvents(persistenceId)), Timeout, TimeSpan.FromMilliseconds(50));

        StopAndWait(queue);
        var restarted = Sys.ActorOf(Queue.Props("orders", Settings));
        Subscribe(restarted, after, Orders, "s", prefetch: 10);

        var third = ExpectDeliver(after, "p");
        Assert.True(third.Redelivered);
        Assert.Equal(3, third.DeliveryCount);
    }

    [Fact(DisplayName = "max-redeliveries counts deliveries across a restart: the NACK that passes it after the restart moves the message to the dead-letter queue")]
    public void DeadLetteringCountsAcrossRestart()
    {
        var settings = Settings with { MaxRedeliveries = 2 };
        var work = Destination.Queue("work");
        var manager = StartManager(settings);
        var (producer, before, after, inspector) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        SendConfirmed(manager, producer, Message(work, "poison"));
        var queue = Subscribe(manager, before, work, "s", prefetch: 1);
        var second = NackAndExpectRedelivery(queue, before, ExpectDeliver(before, "poison"));
        Assert.Equal(2, second.DeliveryCount);

        StopAndWait(manager);
        var restarted = StartManager(settings);
        var restartedQueue = Subscribe(restarted, after, work, "s", prefetch: 1);
        var third = ExpectDeliver(after, "poison");
        Assert.Equal(3, third.DeliveryCount);
        var correlationId = NextCorrelationId();
        restartedQueue.Tell(new Nack("s", [third.DeliveryTag], correlationId), after.Ref);
        after.ExpectMsg<AckConfirmed>(a => a.CorrelationId == correlationId, Timeout);
        after.ExpectNoMsg(Quiet);

        Subscribe(restarted, inspector, settings.DeadLetterDestination, "dlq");
        var dead = ExpectDeliver(inspector, "poison");
        Assert.Equal(1, dead.DeliveryCount);
    }

    /// <summary>NACKs one delivery and returns its redelivery to the same consumer (the NACK's confirmation follows it).</summary>
    private Deliver NackAndExpectRedelivery(IActorRef destination, TestProbe consumer, Deliver delivery)
    {
        var correlationId = NextCorrelationId();
        destination.Tell(new Nack(delivery.SubscriptionId, [delivery.DeliveryTag], correlationId), consumer.Ref);
        var replies = consumer.ReceiveN(2, Timeout);
        Assert.Contains(replies, r => r is AckConfirmed c && c.CorrelationId == correlationId);
        var redelivery = Assert.Single(replies.OfType<Deliver>());
        Assert.True(redelivery.Redelivered);
        Assert.Equal(delivery.Message.MessageId, redelivery.Message.MessageId);
        return redelivery;
    }

    private IActorRef StartManager(BrokerSettings settings)
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(BrokerManagerStarted));
        var manager = Sys.ActorOf(BrokerManager.Props(settings), "broker");
        Assert.Equal(manager, events.ExpectMsg<BrokerManagerStarted>(Timeout).BrokerManager);
        Sys.EventStream.Unsubscribe(events.Ref);
        return manager;
    }
}
