using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

public sealed class BrokerManagerSpec : CoreSpec
{
    public BrokerManagerSpec(ITestOutputHelper output) : base(output)
    {
        Settings = BrokerSettings.Create(ConfigurationFactory.ParseString("""
            actorbroker.broker.max-destinations = 4
            actorbroker.broker.max-redeliveries = 1
            actorbroker.broker.snapshot-every = 2
            """));
    }

    private IActorRef StartManager(BrokerSettings? settings = null)
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(BrokerManagerStarted));
        var manager = Sys.ActorOf(BrokerManager.Props(settings ?? Settings), "broker");
        Assert.Equal(manager, events.ExpectMsg<BrokerManagerStarted>(Timeout).BrokerManager);
        Sys.EventStream.Unsubscribe(events.Ref);
        return manager;
    }

    [Fact(DisplayName = "The manager creates and journals a destination on first use and forwards the send to it")]
    public void CreatesDestinationsOnFirstUse()
    {
        var manager = StartManager();
        var (producer, consumer) = (CreateTestProbe(), CreateTestProbe());
        var work = Destination.Queue("work");
        SendConfirmed(manager, producer, Message(work, "1"));
        Assert.Equal("queue-work", producer.LastSender.Path.Name);

        Subscribe(manager, consumer, work, "s");
        ExpectDeliver(consumer, "1");
        Assert.Equal([new DestinationCreated(work)], JournalEvents(BrokerManager.ManagerPersistenceId));
    }

    [Fact(DisplayName = "After recovery the manager restarts every registered destination before publishing BrokerManagerStarted")]
    public async Task RecoveryRestartsDestinations()
    {
        var manager = StartManager();
        var (producer, session) = (CreateTestProbe(), CreateTestProbe());
        var work = Destination.Queue("work");
        var news = Destination.Topic("news");
        SendConfirmed(manager, producer, Message(work, "queued"));
        var durable = Subscribe(manager, session, news, "d", clientId: "client", durableName: "sub");
        durable.Tell(new Unsubscribe("d"), session.Ref);
        SendConfirmed(manager, producer, Message(news, "published"));

        var stopped = CreateTestProbe();
        Sys.EventStream.Subscribe(stopped.Ref, typeof(BrokerManagerStopped));
        manager.Tell(BrokerManager.TerminationMessage);
        stopped.ExpectMsg<BrokerManagerStopped>(Timeout);
        StopAndWait(manager);

        // The registry snapshot (after 2 events) replaced the first DestinationCreated: recovery uses both.
        AwaitAssert(() => Assert.DoesNotContain(JournalEvents(BrokerManager.ManagerPersistenceId), e => e is DestinationCreated { Destination.Name: "work" }),
            Timeout, TimeSpan.FromMilliseconds(50));
        var restarted = StartManager();
        foreach (var child in new[] { "queue-work", "topic-news", "durable-client-sub" })
            Assert.NotNull(await Sys.ActorSelection($"/user/broker/{child}").ResolveOne(Timeout));

        var again = CreateTestProbe();
        Subscribe(restarted, again, work, "q");
        ExpectDeliver(again, "queued");
        Subscribe(restarted, again, news, "d", clientId: "client", durableName: "sub");
        ExpectDeliver(again, "published");
    }

    [Fact(DisplayName = "Beyond max-destinations new destinations are rejected, existing ones keep working")]
    public void LimitsDestinations()
    {
        var manager = StartManager();
        var producer = CreateTestProbe();
        foreach (var name in new[] { "q1", "q2", "q3", "q4" }) SendConfirmed(manager, producer, Message(Destination.Queue(name), "x"));

        manager.Tell(new Send(Message(Destination.Queue("q5"), "x"), 50), producer.Ref);
        Assert.Contains("max-destinations", producer.ExpectMsg<SendRejected>(Timeout).Reason);
        manager.Tell(new Subscribe("s", Destination.Topic("t"), AckMode.Auto, 1), producer.Ref);
        Assert.Contains("max-destinations", producer.ExpectMsg<SubscribeRejected>(Timeout).Reason);
        SendConfirmed(manager, producer, Message(Destination.Queue("q1"), "still fine"));
    }

    [Fact(DisplayName = "Destination names in any script map to distinct, valid actor names")]
    public void EscapesUnicodeNames()
    {
        var manager = StartManager();
        var (producer, consumer) = (CreateTestProbe(), CreateTestProbe());
        var names = new[] { "Bestellungen/über 队列 🚀", "a-b", "a_b", "$a" };
        foreach (var name in names) SendConfirmed(manager, producer, Message(Destination.Queue(name), name));

        Subscribe(manager, consumer, Destination.Queue(names[0]), "s");
        ExpectDeliver(consumer, names[0]);
        Assert.Equal(names.Length, names.Select(n => ActorNames.Escape(n)).Distinct().Count());
        Assert.All(names, n => Assert.True(ActorPath.IsValidPathElement(ActorNames.For(Destination.Queue(n)))));
    }

    [Fact(DisplayName = "A message NACKed past max-redeliveries moves to ActiveMQ.DLQ with its original destination, even at max-destinations")]
    public void DeadLettersAfterMaxRedeliveries()
    {
        // No snapshot may delete the removal event this spec looks for.
        var manager = StartManager(Settings with { SnapshotEvery = 1000 });
        var (producer, consumer, inspector) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        foreach (var name in new[] { "q1", "q2", "q3" }) SendConfirmed(manager, producer, Message(Destination.Queue(name), "x"));
        var work = Destination.Queue("work");
        SendConfirmed(manager, producer, Message(work, "poison"));

        var queue = Subscribe(manager, consumer, work, "s");
        var first = ExpectDeliver(consumer, "poison");
        queue.Tell(new Nack("s", [first.DeliveryTag], 1), consumer.Ref);
        var replies = consumer.ReceiveN(2, Timeout);
        Assert.Contains(replies, r => r is AckConfirmed { CorrelationId: 1 });
        var second = Assert.Single(replies.OfType<Deliver>());
        Assert.Equal(2, second.DeliveryCount);
        queue.Tell(new Nack("s", [second.DeliveryTag], 2), consumer.Ref);
        consumer.ExpectMsg<AckConfirmed>(a => a.CorrelationId == 2, Timeout);
        consumer.ExpectNoMsg(Quiet);

        Subscribe(manager, inspector, Settings.DeadLetterDestination, "dlq");
        var dead = ExpectDeliver(inspector, "poison");
        Assert.Equal("ActiveMQ.DLQ", dead.Message.Destination.Name);
        Assert.Contains(dead.Message.Headers, h => h.Key == DeadLetterHeaders.OriginalDestination && h.Value == "/queue/work");
        AwaitAssert(() => Assert.Contains(JournalEvents(Queue.PersistenceIdFor("work")), e => e is MessagesRemoved),
            Timeout, TimeSpan.FromMilliseconds(50));
    }
}
