using ActorBroker.Core;
using ActorBroker.Core.Destinations;
using ActorBroker.Core.Protocol;
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
        : base(output, ConfigurationFactory.ParseString(GatedJournal.ConfigText), systemName)
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
}
