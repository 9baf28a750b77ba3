using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

/// <summary>SendConfirmed means durable: specs against a journal whose writes can be held back or failed.</summary>
public sealed class DurabilityContractSpec : CoreSpec
{
    private static readonly Destination Orders = Destination.Queue("orders");
    private readonly JournalGate _gate;

    public DurabilityContractSpec(ITestOutputHelper output) : this(output, "gated-" + Guid.NewGuid().ToString("N"))
    {
    }

    private DurabilityContractSpec(ITestOutputHelper output, string systemName)
        : base(output, systemName: systemName)
    {
        _gate = GatedJournal.GateFor(systemName);
        Settings = BrokerSettings.Create(ConfigurationFactory.ParseString($"actorbroker.broker.journal-plugin-id = \"{GatedJournal.PluginId}\""));
    }

    [Fact(DisplayName = "SendConfirmed is sent only after the journal write completed")]
    public void ConfirmsOnlyAfterTheWrite()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var producer = CreateTestProbe();
        SendConfirmed(queue, producer, Message(Orders, "warm-up")); // recovery done, journal idle

        _gate.Close();
        queue.Tell(new Send(Message(Orders, "held"), 2), producer.Ref);
        producer.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        _gate.Open();
        producer.ExpectMsg<SendConfirmed>(c => c.CorrelationId == 2, Timeout);
    }

    [Fact(DisplayName = "A failed journal write answers every waiting producer with SendRejected")]
    public void RejectsWhenTheWriteFails()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var (first, second) = (CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, first, Message(Orders, "warm-up"));

        _gate.Close();
        _gate.FailWrites = true;
        queue.Tell(new Send(Message(Orders, "doomed-1"), 2), first.Ref);
        queue.Tell(new Send(Message(Orders, "doomed-2"), 3), second.Ref);
        _gate.Open();

        Assert.Contains("journal write failed", first.ExpectMsg<SendRejected>(r => r.CorrelationId == 2, Timeout).Reason);
        Assert.Contains("journal write failed", second.ExpectMsg<SendRejected>(r => r.CorrelationId == 3, Timeout).Reason);
    }

    [Fact(DisplayName = "AckConfirmed is sent only after the ack is journalled")]
    public void AckConfirmedOnlyAfterTheWrite()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var (consumer, producer) = (CreateTestProbe(), CreateTestProbe());
        SendConfirmed(queue, producer, Message(Orders, "1"));
        var subscription = Subscribe(queue, consumer, Orders, "s");
        var delivered = ExpectDeliver(consumer, "1");

        _gate.Close();
        subscription.Tell(new Ack("s", [delivered.DeliveryTag], 9), consumer.Ref);
        consumer.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        _gate.Open();
        consumer.ExpectMsg<AckConfirmed>(a => a.CorrelationId == 9, Timeout);
    }

    [Fact(DisplayName = "A topic confirms a persistent send only after its durable subscription journalled it")]
    public void TopicConfirmsAfterDurableSubscriptionsStored()
    {
        var manager = StartManager(Settings);
        var (session, producer) = (CreateTestProbe(), CreateTestProbe());
        var news = Destination.Topic("news");
        var durable = Subscribe(manager, session, news, "d", clientId: "c1", durableName: "feed");
        durable.Tell(new Unsubscribe("d"), session.Ref);

        _gate.Close();
        manager.Tell(new Send(Message(news, "stored first"), 4), producer.Ref);
        producer.ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        _gate.Open();
        producer.ExpectMsg<SendConfirmed>(c => c.CorrelationId == 4, Timeout);
    }

    [Fact(DisplayName = "A queue stopped by a journal failure is restarted by the manager and recovers its messages")]
    public async Task ManagerRestartsFailedDestination()
    {
        var manager = StartManager(Settings with { DestinationRestartDelay = TimeSpan.FromMilliseconds(200) });
        var (producer, consumer) = (CreateTestProbe(), CreateTestProbe());
        SendConfirmed(manager, producer, Message(Orders, "kept"));
        var failed = producer.LastSender;
        var watcher = CreateTestProbe();
        watcher.Watch(failed);

        _gate.FailWrites = true;
        manager.Tell(new Send(Message(Orders, "lost"), 2), producer.Ref);
        producer.ExpectMsg<SendRejected>(r => r.CorrelationId == 2, Timeout);
        watcher.ExpectTerminated(failed, Timeout);
        _gate.FailWrites = false;

        await AwaitAssertAsync(async () =>
        {
            var current = await Sys.ActorSelection(failed.Path).ResolveOne(Timeout);
            Assert.NotEqual(failed, current);
        }, Timeout, TimeSpan.FromMilliseconds(50));

        Subscribe(manager, consumer, Orders, "s");
        ExpectDeliver(consumer, "kept");
        consumer.ExpectNoMsg(Quiet);
    }

    [Fact(DisplayName = "Concurrent sends from many producers are grouped into a few journal writes, each confirmed")]
    public void GroupsConcurrentSends()
    {
        var queue = Sys.ActorOf(Queue.Props("orders", Settings));
        var producers = Enumerable.Range(0, 10).Select(_ => CreateTestProbe()).ToList();
        SendConfirmed(queue, producers[0], Message(Orders, "warm-up"));

        _gate.Close();
        var writesBefore = _gate.Writes;
        for (var i = 0; i < 200; i++)
            queue.Tell(new Send(Message(Orders, $"m{i}"), 1000 + i), producers[i % 10].Ref);
        _gate.Open();

        foreach (var producer in producers)
            Assert.Equal(20, producer.ReceiveN(20, Timeout).OfType<SendConfirmed>().Count());
        var writes = _gate.Writes - writesBefore;
        Assert.InRange(writes, 1, 10);
        Output?.WriteLine($"200 concurrent sends took {writes} journal writes");
    }

    [Fact(DisplayName = "Snapshots taken while journal writes are in flight lose and duplicate nothing on recovery")]
    public void SnapshotsDuringInFlightWritesAreConsistent()
    {
        var settings = Settings with { SnapshotEvery = 5 };
        var queue = Sys.ActorOf(Queue.Props("orders", settings));
        var producers = Enumerable.Range(0, 5).Select(_ => CreateTestProbe()).ToList();
        SendConfirmed(queue, producers[0], Message(Orders, "m-first"));

        _gate.Close();
        for (var i = 0; i < 50; i++)
            queue.Tell(new Send(Message(Orders, $"m{i:D2}"), 2000 + i), producers[i % 5].Ref);
        _gate.Open();
        foreach (var producer in producers)
            Assert.Equal(10, producer.ReceiveN(10, Timeout).OfType<SendConfirmed>().Count());
        AwaitAssert(() => Assert.True(JournalEvents(Queue.PersistenceIdFor("orders")).Count < 5, "journal truncated up to a snapshot"),
            Timeout, TimeSpan.FromMilliseconds(50));

        StopAndWait(queue);
        var restarted = Sys.ActorOf(Queue.Props("orders", settings));
        var consumer = CreateTestProbe();
        Subscribe(restarted, consumer, Orders, "s", prefetch: 100);
        var bodies = consumer.ReceiveN(51, Timeout).Cast<Deliver>().Select(BodyOf).ToList();
        Assert.Equal(new[] { "m-first" }.Concat(Enumerable.Range(0, 50).Select(i => $"m{i:D2}")), bodies);
        consumer.ExpectNoMsg(Quiet);
    }

    private IActorRef StartManager(BrokerSettings settings)
    {
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(BrokerManagerStarted));
        var manager = Sys.ActorOf(BrokerManager.Props(settings), "broker");
        events.ExpectMsg<BrokerManagerStarted>(Timeout);
        return manager;
    }
}
