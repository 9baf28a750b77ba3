using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

public sealed class QueueSpec : CoreSpec
{
    private static readonly Destination Orders = Destination.Queue("orders");

    public QueueSpec(ITestOutputHelper output) : base(output)
    {
        Settings = BrokerSettings.Create(ConfigurationFactory.ParseString("actorbroker.broker.max-queue-bytes = 20000"));
    }

    private IActorRef StartQueue(string name = "orders") => Sys.ActorOf(Queue.Props(name, Settings));

    [Fact(DisplayName = "A queue dispatches round-robin to competing consumers")]
    public void DispatchesRoundRobin()
    {
        var queue = StartQueue();
        var (a, b, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Subscribe(queue, a, Orders, "a");
        Subscribe(queue, b, Orders, "b");

        foreach (var body in new[] { "1", "2", "3", "4" }) SendConfirmed(queue, producer, Message(Orders, body));

        Assert.Equal(["1", "3"], new[] { BodyOf(a.ExpectMsg<Deliver>(Timeout)), BodyOf(a.ExpectMsg<Deliver>(Timeout)) });
        Assert.Equal(["2", "4"], new[] { BodyOf(b.ExpectMsg<Deliver>(Timeout)), BodyOf(b.ExpectMsg<Deliver>(Timeout)) });
    }

    [Fact(DisplayName = "A consumer never has more unacknowledged deliveries than its prefetch")]
    public void PrefetchBoundsOutstandingDeliveries()
    {
        var queue = StartQueue();
        var (consumer, producer) = (CreateTestProbe(), CreateTestProbe());
        foreach (var body in new[] { "1", "2", "3", "4", "5" }) SendConfirmed(queue, producer, Message(Orders, body));

        Subscribe(queue, consumer, Orders, "s", prefetch: 2);
        var first = ExpectDeliver(consumer, "1");
        ExpectDeliver(consumer, "2");
        consumer.ExpectNoMsg(Quiet);

        queue.Tell(new Ack("s", [first.DeliveryTag], 5), consumer.Ref);
        var replies = consumer.ReceiveN(2, Timeout);
        Assert.Contains(replies, r => r is Deliver d && BodyOf(d) == "3");
        Assert.Contains(replies, r => r is AckConfirmed { CorrelationId: 5 });
        consumer.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "Acked messages are gone for good while unacked ones return to the next consumer, flagged redelivered")]
    public void AckListsSettleOnlyTheNamedDeliveries()
    {
        var queue = StartQueue();
        var (first, second, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        foreach (var body in new[] { "1", "2", "3" }) SendConfirmed(queue, producer, Message(Orders, body));

        var consumer = Subscribe(queue, first, Orders, "s", ackMode: AckMode.Client);
        var d1 = ExpectDeliver(first, "1");
        ExpectDeliver(first, "2");
        var d3 = ExpectDeliver(first, "3");
        AckConfirmed(consumer, first, "s", d1.DeliveryTag, d3.DeliveryTag);
        consumer.Tell(new Unsubscribe("s"), first.Ref);

        Subscribe(queue, second, Orders, "s2");
        var redelivered = ExpectDeliver(second, "2");
        Assert.True(redelivered.Redelivered);
        Assert.Equal(2, redelivered.DeliveryCount);
        second.ExpectNoMsg(Quiet);
        Assert.Contains(JournalEvents(Queue.PersistenceIdFor("orders")), e => e is MessagesRemoved { Seqs.Count: 2 });
    }

    [Fact(DisplayName = "A NACKed message comes back first, flagged redelivered with an incremented delivery count")]
    public void NackRedelivers()
    {
        var queue = StartQueue();
        var (consumer, producer) = (CreateTestProbe(), CreateTestProbe());
        Subscribe(queue, consumer, Orders, "s", prefetch: 1);
        SendConfirmed(queue, producer, Message(Orders, "1"));
        SendConfirmed(queue, producer, Message(Orders, "2"));

        var first = ExpectDeliver(consumer, "1");
        Assert.False(first.Redelivered);
        Assert.Equal(1, first.DeliveryCount);
        queue.Tell(new Nack("s", [first.DeliveryTag], 7), consumer.Ref);

        var again = ExpectDeliver(consumer, "1");
        consumer.ExpectMsg<AckConfirmed>(a => a.CorrelationId == 7, Timeout);
        Assert.True(again.Redelivered);
        Assert.Equal(2, again.DeliveryCount);
        Assert.NotEqual(first.DeliveryTag, again.DeliveryTag);
    }

    [Fact(DisplayName = "When a consumer terminates its unacked messages go back to the head in their original order")]
    public void TerminatedConsumerReturnsMessagesToHead()
    {
        var queue = StartQueue();
        var (doomed, survivor, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Subscribe(queue, doomed, Orders, "s", prefetch: 3);
        foreach (var body in new[] { "1", "2", "3", "4", "5" }) SendConfirmed(queue, producer, Message(Orders, body));
        ExpectDeliver(doomed, "1");
        ExpectDeliver(doomed, "2");
        ExpectDeliver(doomed, "3");

        StopAndWait(doomed.Ref);
        Subscribe(queue, survivor, Orders, "s", prefetch: 10);

        var bodies = Enumerable.Range(0, 5).Select(_ => survivor.ExpectMsg<Deliver>(Timeout)).ToList();
        Assert.Equal(["1", "2", "3", "4", "5"], bodies.Select(BodyOf));
        Assert.Equal([true, true, true, false, false], bodies.Select(d => d.Redelivered));
    }

    [Fact(DisplayName = "A SendBatch is one journal event, confirmed once, and rejected whole when it does not fit")]
    public void SendBatchIsAtomic()
    {
        var queue = StartQueue();
        var producer = CreateTestProbe();
        queue.Tell(new SendBatch(Orders, [Message(Orders, "1"), Message(Orders, "2"), Message(Orders, "3")], 11), producer.Ref);
        producer.ExpectMsg<SendConfirmed>(c => c.CorrelationId == 11, Timeout);
        producer.ExpectNoMsg(Quiet);

        var tooBig = Enumerable.Range(0, 200).Select(i => Message(Orders, new string('x', 100))).ToList();
        queue.Tell(new SendBatch(Orders, tooBig, 12), producer.Ref);
        var rejected = producer.ExpectMsg<SendRejected>(Timeout);
        Assert.Equal(12, rejected.CorrelationId);
        Assert.Contains("is full", rejected.Reason);

        var enqueued = JournalEvents(Queue.PersistenceIdFor("orders")).OfType<MessagesEnqueued>().ToList();
        Assert.Single(enqueued);
        Assert.Equal(3, enqueued[0].Messages.Count);

        var consumer = CreateTestProbe();
        Subscribe(queue, consumer, Orders, "s");
        ExpectDeliver(consumer, "1");
        ExpectDeliver(consumer, "2");
        ExpectDeliver(consumer, "3");
        consumer.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "Non-persistent messages are delivered but never journalled")]
    public void NonPersistentIsNotJournalled()
    {
        var queue = StartQueue();
        var (consumer, producer) = (CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, producer, Message(Orders, "volatile", persistent: false));
        var subscription = Subscribe(queue, consumer, Orders, "s");
        var delivered = ExpectDeliver(consumer, "volatile");
        AckConfirmed(subscription, consumer, "s", delivered.DeliveryTag);

        Assert.Empty(JournalEvents(Queue.PersistenceIdFor("orders")));
    }

    [Fact(DisplayName = "Sends past max-queue-bytes are rejected with a reason naming the full queue")]
    public void RejectsSendsWhenFull()
    {
        var queue = StartQueue();
        var producer = CreateTestProbe();
        var big = new string('x', 6000);
        SendConfirmed(queue, producer, Message(Orders, big));
        SendConfirmed(queue, producer, Message(Orders, big));
        SendConfirmed(queue, producer, Message(Orders, big));
        queue.Tell(new Send(Message(Orders, big), 99), producer.Ref);

        var rejected = producer.ExpectMsg<SendRejected>(Timeout);
        Assert.Equal(99, rejected.CorrelationId);
        Assert.Contains("queue [orders] is full", rejected.Reason);
    }

    [Fact(DisplayName = "A second consumer with a subscription id already in use by the same session is rejected")]
    public void DuplicateSubscriptionIdRejected()
    {
        var queue = StartQueue();
        var session = CreateTestProbe();
        Subscribe(queue, session, Orders, "s");
        queue.Tell(new Subscribe("s", Orders, AckMode.Auto, 10), session.Ref);
        session.ExpectMsg<SubscribeRejected>(Timeout);
    }
}
