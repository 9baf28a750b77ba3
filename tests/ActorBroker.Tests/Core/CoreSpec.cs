using ActorBroker.Core;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

/// <summary>
/// Base of the broker core actor specs: an ActorSystem with in-memory journal and snapshot store
/// (one per spec, so specs never share state), the core's reference.conf, and helpers that play the session.
/// </summary>
public abstract class CoreSpec : Akka.TestKit.Xunit2.TestKit
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    protected static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    // In-memory stores that keep what the serializer produced, so every spec exercises the binary format.
    private static readonly Config SpecConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.persistence.journal.plugin = "akka.persistence.journal.gated"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.serializing"
        """).WithFallback(ConfigurationFactory.ParseString(GatedJournal.ConfigText));

    private readonly MessageIdGenerator _ids = new("spec");
    private long _lastCorrelationId;

    protected CoreSpec(ITestOutputHelper output, Config? extra = null, string? systemName = null)
        : base((extra ?? Config.Empty).WithFallback(SpecConfig).WithFallback(CoreConfig.Default), systemName ?? "core-spec", output)
    {
    }

    /// <summary>Defaults from reference.conf with small limits where a spec needs them.</summary>
    protected BrokerSettings Settings { get; init; } = BrokerSettings.Create(Config.Empty);

    protected long NextCorrelationId() => ++_lastCorrelationId;

    protected BrokerMessage Message(Destination destination, string body, bool persistent = true) =>
        new(_ids.Next(), destination, persistent, 0, [new KeyValuePair<string, string>("k", "v")], System.Text.Encoding.UTF8.GetBytes(body));

    protected static string BodyOf(Deliver deliver) => System.Text.Encoding.UTF8.GetString(deliver.Message.Body.Span);

    /// <summary>Sends and waits for the destination's confirmation; the probe plays the producer's session.</summary>
    protected void SendConfirmed(IActorRef target, TestProbe producer, BrokerMessage message)
    {
        var correlationId = NextCorrelationId();
        target.Tell(new Send(message, correlationId), producer.Ref);
        producer.ExpectMsg<SendConfirmed>(c => c.CorrelationId == correlationId, Timeout);
    }

    /// <summary>Subscribes the probe and returns the destination actor it must send Ack/Nack/Unsubscribe to.</summary>
    protected IActorRef Subscribe(IActorRef target, TestProbe session, Destination destination, string subscriptionId,
        int prefetch = 100, AckMode ackMode = AckMode.ClientIndividual, string? clientId = null, string? durableName = null)
    {
        target.Tell(new Subscribe(subscriptionId, destination, ackMode, prefetch, clientId, durableName), session.Ref);
        session.ExpectMsg<SubscribeConfirmed>(c => c.SubscriptionId == subscriptionId, Timeout);
        return session.LastSender;
    }

    protected void AckConfirmed(IActorRef destination, TestProbe session, string subscriptionId, params long[] tags)
    {
        var correlationId = NextCorrelationId();
        destination.Tell(new Ack(subscriptionId, tags, correlationId), session.Ref);
        session.ExpectMsg<AckConfirmed>(c => c.CorrelationId == correlationId, Timeout);
    }

    protected Deliver ExpectDeliver(TestProbe session, string body) =>
        session.ExpectMsg<Deliver>(d => BodyOf(d) == body, Timeout);

    /// <summary>Stops an actor and waits until it is gone, so a new incarnation can recover the same persistence id.</summary>
    protected void StopAndWait(IActorRef actor)
    {
        var watcher = CreateTestProbe();
        watcher.Watch(actor);
        Sys.Stop(actor);
        watcher.ExpectTerminated(actor, Timeout);
    }

    /// <summary>Payloads the journal holds for a persistence id, by asking the journal directly.</summary>
    protected IReadOnlyList<object> JournalEvents(string persistenceId, string? journalPluginId = null)
    {
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(journalPluginId);
        var probe = CreateTestProbe();
        journal.Tell(new ReplayMessages(0, long.MaxValue, long.MaxValue, persistenceId, probe.Ref));
        var events = new List<object>();
        while (true)
        {
            switch (probe.ExpectMsg<object>(Timeout))
            {
                case ReplayedMessage replayed:
                    events.Add(replayed.Persistent.Payload);
                    break;
                case RecoverySuccess:
                    return events;
                case var other:
                    throw new InvalidOperationException($"Unexpected journal reply {other}");
            }
        }
    }
}
