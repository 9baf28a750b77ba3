using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

public sealed class TopicSpec : CoreSpec
{
    private static readonly Destination News = Destination.Topic("news");

    public TopicSpec(ITestOutputHelper output) : base(output)
    {
        Settings = BrokerSettings.Create(ConfigurationFactory.ParseString("actorbroker.broker.topic-pending-limit = 2"));
    }

    private IActorRef StartManager()
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(BrokerManagerStarted));
        var manager = Sys.ActorOf(BrokerManager.Props(Settings), "broker");
        events.ExpectMsg<BrokerManagerStarted>(Timeout);
        return manager;
    }

    [Fact(DisplayName = "A topic fans out to every current subscriber, and a non-durable subscriber misses what is sent while away")]
    public void FansOutAndNonDurableMisses()
    {
        var topic = Sys.ActorOf(Topic.Props("news", Settings));
        var (a, b, producer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Subscribe(topic, a, News, "a");
        Subscribe(topic, b, News, "b");
        SendConfirmed(topic, producer, Message(News, "1"));
        ExpectDeliver(a, "1");
        ExpectDeliver(b, "1");

        topic.Tell(new Unsubscribe("b"), b.Ref);
        SendConfirmed(topic, producer, Message(News, "2"));
        ExpectDeliver(a, "2");
        Subscribe(topic, b, News, "b");
        SendConfirmed(topic, producer, Message(News, "3"));
        ExpectDeliver(b, "3");
        b.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "A slow subscriber's pending messages are bounded by topic-pending-limit, dropping the oldest")]
    public void SlowSubscriberIsBounded()
    {
        var topic = Sys.ActorOf(Topic.Props("news", Settings));
        var (slow, producer) = (CreateTestProbe(), CreateTestProbe());
        Subscribe(topic, slow, News, "s", prefetch: 1);
        foreach (var body in new[] { "1", "2", "3", "4", "5" }) SendConfirmed(topic, producer, Message(News, body));

        var first = ExpectDeliver(slow, "1");
        slow.ExpectNoMsg(Quiet);
        topic.Tell(new Ack("s", [first.DeliveryTag], 1), slow.Ref);
        var replies = slow.ReceiveN(2, Timeout);
        var next = Assert.Single(replies.OfType<Deliver>());
        Assert.Equal("4", BodyOf(next)); // 2 and 3 were dropped: the backlog holds only the 2 newest
        topic.Tell(new Ack("s", [next.DeliveryTag], 2), slow.Ref);
        Assert.Single(slow.ReceiveN(2, Timeout).OfType<Deliver>(), d => BodyOf(d) == "5");
    }

    [Fact(DisplayName = "A durable subscription keeps what is published while its consumer is away and delivers it on reconnect")]
    public void DurableCatchUp()
    {
        var manager = StartManager();
        var (session, producer) = (CreateTestProbe(), CreateTestProbe());
        var durable = Subscribe(manager, session, News, "d", clientId: "c1", durableName: "feed");
        SendConfirmed(manager, producer, Message(News, "live"));
        var live = ExpectDeliver(session, "live");
        AckConfirmed(durable, session, "d", live.DeliveryTag);
        durable.Tell(new Unsubscribe("d"), session.Ref);

        SendConfirmed(manager, producer, Message(News, "while-away-1"));
        SendConfirmed(manager, producer, Message(News, "while-away-2"));

        var reconnected = CreateTestProbe();
        Subscribe(manager, reconnected, News, "d2", clientId: "c1", durableName: "feed");
        ExpectDeliver(reconnected, "while-away-1");
        ExpectDeliver(reconnected, "while-away-2");
        reconnected.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "A second consumer of an active durable subscription is rejected")]
    public void SecondDurableConsumerRejected()
    {
        var manager = StartManager();
        var (first, second) = (CreateTestProbe(), CreateTestProbe());
        Subscribe(manager, first, News, "d", clientId: "c1", durableName: "feed");

        manager.Tell(new Subscribe("d", News, AckMode.Client, 10, "c1", "feed"), second.Ref);
        Assert.Contains("durable consumer already active", second.ExpectMsg<SubscribeRejected>(Timeout).Reason);
    }

    [Fact(DisplayName = "Unsubscribe with RemoveDurable deletes the durable subscription and what it kept")]
    public void RemoveDurableDeletesIt()
    {
        var manager = StartManager();
        var (session, producer) = (CreateTestProbe(), CreateTestProbe());
        var durable = Subscribe(manager, session, News, "d", clientId: "c1", durableName: "feed", prefetch: 1);
        SendConfirmed(manager, producer, Message(News, "kept-1"));
        SendConfirmed(manager, producer, Message(News, "kept-2"));
        ExpectDeliver(session, "kept-1");

        var watcher = CreateTestProbe();
        watcher.Watch(durable);
        durable.Tell(new Unsubscribe("d", RemoveDurable: true), session.Ref);
        watcher.ExpectTerminated(durable, Timeout);
        Assert.Empty(JournalEvents(DurableSubscription.PersistenceIdFor("c1", "feed")));

        var fresh = CreateTestProbe();
        Subscribe(manager, fresh, News, "d", clientId: "c1", durableName: "feed");
        fresh.ExpectNoMsg(Quiet);
        SendConfirmed(manager, producer, Message(News, "new"));
        ExpectDeliver(fresh, "new");
    }
}
