using Akka.Actor;

namespace ActorBroker.Core.Protocol;

// The contract between a protocol adapter's session actor and the broker core.
// A session sends commands to the broker manager (the IActorRef in BrokerManagerStarted); the
// manager forwards each one to the destination it names, creating the destination when needed,
// so Sender is always the session. Replies come from the destination actor, which is how a
// session learns the IActorRef to send later Ack/Nack/Unsubscribe to directly.

/// <summary>
/// Session → broker manager → destination. Enqueue one message.
/// Replies <see cref="SendConfirmed"/> once the message is durable in the journal (persistent
/// messages) or has been accepted in memory (non-persistent), else <see cref="SendRejected"/>.
/// The durability contract hangs on this: a protocol receipt may be sent only after SendConfirmed.
/// </summary>
public sealed record Send(BrokerMessage Message, long CorrelationId);

/// <summary>
/// Session → broker manager → destination. Enqueue several messages for one destination
/// atomically (a committed transaction): all become visible, or none.
/// Replies <see cref="SendConfirmed"/> or <see cref="SendRejected"/> with the same correlation id.
/// </summary>
public sealed record SendBatch(Destination Destination, IReadOnlyList<BrokerMessage> Messages, long CorrelationId);

/// <summary>Destination → session. The <see cref="Send"/>/<see cref="SendBatch"/> with this correlation id is durable.</summary>
public sealed record SendConfirmed(long CorrelationId);

/// <summary>Destination or manager → session. The send was not stored; <paramref name="Reason"/> is shown to the client.</summary>
public sealed record SendRejected(long CorrelationId, string Reason);

/// <summary>
/// Session → broker manager → destination. Start delivering to the sender.
/// <paramref name="DurableName"/> with <paramref name="ClientId"/> on a topic names a durable
/// subscription (ActiveMQ's <c>activemq.subscriptionName</c> + <c>client-id</c>); it keeps
/// messages published while no consumer is attached.
/// Replies <see cref="SubscribeConfirmed"/> (Sender = the actor to send Ack/Nack/Unsubscribe to)
/// or <see cref="SubscribeRejected"/>. The destination watches the session: when it terminates,
/// its subscriptions end and their unacknowledged messages are redelivered to others.
/// </summary>
public sealed record Subscribe(
    string SubscriptionId,
    Destination Destination,
    AckMode AckMode,
    int Prefetch,
    string? ClientId = null,
    string? DurableName = null);

/// <summary>Destination → session. Deliveries for this subscription follow. Sender is the destination to talk to.</summary>
public sealed record SubscribeConfirmed(string SubscriptionId);

/// <summary>Destination or manager → session. The subscription was refused, e.g. a durable subscription already has a consumer.</summary>
public sealed record SubscribeRejected(string SubscriptionId, string Reason);

/// <summary>
/// Session → destination. End a subscription; its unacknowledged messages go back to the head of
/// the queue, flagged redelivered. <paramref name="RemoveDurable"/> also deletes a durable
/// subscription and what it kept (ActiveMQ: UNSUBSCRIBE naming the subscription).
/// No reply.
/// </summary>
public sealed record Unsubscribe(string SubscriptionId, bool RemoveDurable = false);

/// <summary>
/// Destination → session. One message for a subscription. <paramref name="DeliveryTag"/> is unique
/// within the destination actor's lifetime and is what Ack/Nack name. At most the subscription's
/// prefetch of deliveries are outstanding (unacknowledged) at once.
/// </summary>
public sealed record Deliver(string SubscriptionId, BrokerMessage Message, long DeliveryTag, bool Redelivered, int DeliveryCount);

/// <summary>
/// Session → destination. Acknowledge deliveries of one subscription; the acks are journalled.
/// Replies <see cref="AckConfirmed"/> once durable (a protocol receipt waits for it). For
/// <see cref="AckMode.Auto"/> the session sends this after the MESSAGE is written to the client.
/// </summary>
public sealed record Ack(string SubscriptionId, IReadOnlyList<long> DeliveryTags, long CorrelationId);

/// <summary>Destination → session. The <see cref="Ack"/> with this correlation id is durable.</summary>
public sealed record AckConfirmed(long CorrelationId);

/// <summary>
/// Session → destination. The consumer refuses these deliveries: they go back to the head of the
/// queue flagged redelivered, or to the dead-letter queue past the maximum redelivery count.
/// Replies <see cref="AckConfirmed"/>.
/// </summary>
public sealed record Nack(string SubscriptionId, IReadOnlyList<long> DeliveryTags, long CorrelationId);

/// <summary>
/// Broker manager → local EventStream, once it recovered its registry and started every destination. The node opens its client listeners and
/// hands <paramref name="BrokerManager"/> to every new session.
/// </summary>
public sealed record BrokerManagerStarted(IActorRef BrokerManager);

/// <summary>Broker manager → local EventStream, from PostStop (lease lost, hand-over, shutdown). Listeners close.</summary>
public sealed record BrokerManagerStopped(IActorRef BrokerManager);
