using ActorBroker.Core.Protocol;

namespace ActorBroker.Core.Events;

// Everything the core writes to a journal or snapshot store. Each type is bound to
// BrokerEventSerializer (reference.conf). Journals outlive versions: never change how an existing manifest is
// laid out; a changed type gets a new manifest beside the old one (see QueueSnapshot).

/// <summary>Marker for journal events and snapshots of the broker core (serializer binding).</summary>
public interface IBrokerEvent;

/// <summary>Broker manager journal: a queue or topic exists (it is started eagerly after recovery).</summary>
public sealed record DestinationCreated(Destination Destination) : IBrokerEvent;

/// <summary>Broker manager journal: a durable subscription of <paramref name="TopicName"/> exists.</summary>
public sealed record DurableSubscriptionCreated(string ClientId, string SubscriptionName, string TopicName) : IBrokerEvent;

/// <summary>Broker manager journal: the durable subscription was removed (its own journal is deleted too).</summary>
public sealed record DurableSubscriptionRemoved(string ClientId, string SubscriptionName) : IBrokerEvent;

/// <summary>One durable subscription in a <see cref="RegistrySnapshot"/>.</summary>
public sealed record DurableSubscriptionEntry(string ClientId, string SubscriptionName, string TopicName);

/// <summary>Broker manager snapshot: the whole registry.</summary>
public sealed record RegistrySnapshot(IReadOnlyList<Destination> Destinations, IReadOnlyList<DurableSubscriptionEntry> DurableSubscriptions) : IBrokerEvent;

/// <summary>A message with its enqueue sequence number: its identity inside one queue-like destination.</summary>
public sealed record EnqueuedMessage(long Seq, BrokerMessage Message);

/// <summary>
/// Queue / durable subscription journal: persistent messages became part of the queue. One event per
/// Send or SendBatch, so a batch is atomic. Non-persistent messages are never in it.
/// </summary>
public sealed record MessagesEnqueued(IReadOnlyList<EnqueuedMessage> Messages) : IBrokerEvent;

/// <summary>Queue / durable subscription journal: messages left the queue (acknowledged, or moved to the dead-letter queue).</summary>
public sealed record MessagesRemoved(IReadOnlyList<long> Seqs) : IBrokerEvent;

/// <summary>
/// Queue / durable subscription journal: messages with an enqueue seq up to <paramref name="UpToSeq"/> may
/// have been delivered; after recovery they are flagged redelivered. Written before dispatch passes the previous mark.
/// </summary>
public sealed record DispatchMarkAdvanced(long UpToSeq) : IBrokerEvent;

/// <summary>
/// Queue / durable subscription journal: each named message, delivered before, may be delivered once more.
/// Written before such a redelivery, as the dispatch mark is before a first delivery, so after recovery a
/// message's delivery count is 1 (its first delivery, under the mark) plus the number of these events naming it.
/// </summary>
public sealed record MessagesRedelivered(IReadOnlyList<long> Seqs) : IBrokerEvent;

/// <summary>How many <see cref="MessagesRedelivered"/> events named the message with this seq.</summary>
public sealed record RedeliveryCount(long Seq, int Count);

/// <summary>
/// Queue / durable subscription snapshot: the persistent messages still held, in queue order, the next
/// enqueue seq, the dispatch mark and the journalled redeliveries of those that have any.
/// </summary>
public sealed record QueueSnapshot(long NextSeq, long DispatchMark, IReadOnlyList<EnqueuedMessage> Messages,
    IReadOnlyList<RedeliveryCount> Redeliveries) : IBrokerEvent
{
    public QueueSnapshot(long nextSeq, long dispatchMark, IReadOnlyList<EnqueuedMessage> messages)
        : this(nextSeq, dispatchMark, messages, [])
    {
    }
}
