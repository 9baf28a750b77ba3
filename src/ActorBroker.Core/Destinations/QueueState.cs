using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;

namespace ActorBroker.Core.Destinations;

/// <summary>One message held by a queue-like destination, with its delivery history.</summary>
internal sealed class QueuedMessage(long seq, BrokerMessage message)
{
    /// <summary>Enqueue sequence number: identity within the destination, increasing in enqueue order.</summary>
    public long Seq { get; } = seq;
    public BrokerMessage Message { get; } = message;
    public long Size { get; } = message.ApproximateSize;

    /// <summary>Deliveries so far; after recovery, those the journal covers (see <see cref="QueueState.CompleteRecovery"/>).</summary>
    public int DeliveryCount { get; set; }

    /// <summary><see cref="MessagesRedelivered"/> events naming this message: redeliveries the journal allows.</summary>
    public int JournalledRedeliveries { get; set; }

    /// <summary>May have been delivered before: STOMP's redelivered / JMS's JMSRedelivered.</summary>
    public bool Redelivered { get; set; }
}

/// <summary>One consumer of a queue-like destination: a session's subscription.</summary>
internal sealed class QueueConsumer(IActorRef session, string subscriptionId, AckMode ackMode, int prefetch)
{
    public IActorRef Session { get; } = session;
    public string SubscriptionId { get; } = subscriptionId;
    public AckMode AckMode { get; } = ackMode;
    public int Prefetch { get; } = prefetch;

    /// <summary>Outstanding deliveries by delivery tag, at most <see cref="Prefetch"/>.</summary>
    public Dictionary<long, QueuedMessage> Unacked { get; } = new();

    public bool HasCapacity => Unacked.Count < Prefetch;
}

/// <summary>A message handed to a consumer by <see cref="QueueState.Dispatch"/>.</summary>
internal readonly record struct Delivery(QueueConsumer Consumer, QueuedMessage Message, long DeliveryTag);

/// <summary>
/// The state and dispatch rules of a queue-like destination, shared by <see cref="Queue"/> and
/// <see cref="DurableSubscription"/>: pending messages in order, consumers served round-robin up to
/// their prefetch, redelivery to the head of the queue, and the dispatch mark and journalled redeliveries that
/// make the redelivered flag and the delivery count survive a crash. Pure: no actor context, no I/O; the actor
/// decides what to journal.
/// </summary>
internal sealed class QueueState
{
    private readonly LinkedList<QueuedMessage> _pending = new();
    private readonly Dictionary<long, LinkedListNode<QueuedMessage>> _pendingBySeq = new();
    private readonly List<QueueConsumer> _consumers = new();

    // Taken from consumers (acked or on the way to the dead-letter queue) but whose removal is not yet
    // durable: still part of the queue for snapshots and size accounting.
    private readonly Dictionary<long, QueuedMessage> _settling = new();

    private int _nextConsumer;
    private long _lastDeliveryTag;

    /// <summary>The seq the next enqueued message gets.</summary>
    public long NextSeq { get; private set; } = 1;

    /// <summary>Durable mark: persistent messages with a seq above it are not dispatched until it advances.</summary>
    public long DispatchMark { get; private set; }

    /// <summary>Approximate bytes of every message held (pending, unacknowledged, settling).</summary>
    public long TotalBytes { get; private set; }

    public int PendingCount => _pending.Count;

    public IReadOnlyList<QueueConsumer> Consumers => _consumers;

    /// <summary>Reserves <paramref name="count"/> consecutive seqs for messages about to be enqueued.</summary>
    public long AllocateSeqs(int count)
    {
        var first = NextSeq;
        NextSeq += count;
        return first;
    }

    /// <summary>Appends messages at the tail (a send, or replay of one).</summary>
    public void Enqueue(IEnumerable<EnqueuedMessage> messages)
    {
        foreach (var m in messages)
        {
            if (_pendingBySeq.ContainsKey(m.Seq)) continue;
            var queued = new QueuedMessage(m.Seq, m.Message);
            _pendingBySeq[m.Seq] = _pending.AddLast(queued);
            TotalBytes += queued.Size;
            if (m.Seq >= NextSeq) NextSeq = m.Seq + 1;
        }
    }

    /// <summary>Forgets messages for good: settled ones live, pending ones during replay.</summary>
    public void Remove(IEnumerable<long> seqs)
    {
        foreach (var seq in seqs)
        {
            if (_settling.Remove(seq, out var settled))
            {
                TotalBytes -= settled.Size;
            }
            else if (_pendingBySeq.Remove(seq, out var node))
            {
                _pending.Remove(node);
                TotalBytes -= node.Value.Size;
            }
        }
    }

    public void AdvanceMark(long upToSeq)
    {
        if (upToSeq > DispatchMark) DispatchMark = upToSeq;
    }

    public QueueConsumer? FindConsumer(IActorRef session, string subscriptionId) =>
        _consumers.Find(c => c.SubscriptionId == subscriptionId && c.Session.Equals(session));

    public bool HasConsumersOf(IActorRef session) => _consumers.Exists(c => c.Session.Equals(session));

    public void AddConsumer(QueueConsumer consumer) => _consumers.Add(consumer);

    /// <summary>Removes a consumer; its unacknowledged messages go back to the head, flagged redelivered.</summary>
    public void RemoveConsumer(QueueConsumer consumer)
    {
        _consumers.Remove(consumer);
        if (_nextConsumer >= _consumers.Count) _nextConsumer = 0;
        RequeueAtHead(consumer.Unacked.Values);
        consumer.Unacked.Clear();
    }

    /// <summary>
    /// Hands pending messages to consumers with free prefetch, round-robin, in queue order. Stops at a persistent
    /// message whose delivery the journal does not cover yet: a first delivery above the dispatch mark (its seq in
    /// <paramref name="blockedAtSeq"/>, else 0), or a redelivery not journalled (<paramref name="blockedOnRedelivery"/>).
    /// The caller journals a higher mark or <see cref="UnjournalledRedeliveries"/> first, then dispatches again.
    /// </summary>
    public List<Delivery> Dispatch(out long blockedAtSeq, out bool blockedOnRedelivery)
    {
        var deliveries = new List<Delivery>();
        blockedAtSeq = 0;
        blockedOnRedelivery = false;
        while (_pending.First is { } head && _consumers.Exists(c => c.HasCapacity))
        {
            var message = head.Value;
            if (message.Message.Persistent && message.DeliveryCount >= JournalledDeliveries(message))
            {
                if (message.DeliveryCount == 0) blockedAtSeq = message.Seq;
                else blockedOnRedelivery = true;
                break;
            }
            var consumer = NextConsumerWithCapacity()!;

            _pending.RemoveFirst();
            _pendingBySeq.Remove(message.Seq);
            message.DeliveryCount++;
            var tag = ++_lastDeliveryTag;
            consumer.Unacked[tag] = message;
            deliveries.Add(new Delivery(consumer, message, tag));
        }
        return deliveries;
    }

    /// <summary>A consumer acknowledged deliveries: they move to settling until their removal is durable. Unknown tags are ignored.</summary>
    public List<QueuedMessage> Acknowledge(QueueConsumer consumer, IEnumerable<long> deliveryTags)
    {
        var acked = new List<QueuedMessage>();
        foreach (var tag in deliveryTags)
        {
            if (!consumer.Unacked.Remove(tag, out var message)) continue;
            _settling[message.Seq] = message;
            acked.Add(message);
        }
        return acked;
    }

    /// <summary>
    /// A consumer refused deliveries. Those delivered more than <paramref name="maxRedeliveries"/> + 1
    /// times are returned (moved to settling, for the dead-letter queue); the others go back to the head.
    /// </summary>
    public List<QueuedMessage> Refuse(QueueConsumer consumer, IEnumerable<long> deliveryTags, int maxRedeliveries)
    {
        var deadLetters = new List<QueuedMessage>();
        var requeue = new List<QueuedMessage>();
        foreach (var tag in deliveryTags)
        {
            if (!consumer.Unacked.Remove(tag, out var message)) continue;
            if (message.DeliveryCount > maxRedeliveries)
            {
                _settling[message.Seq] = message;
                deadLetters.Add(message);
            }
            else
            {
                requeue.Add(message);
            }
        }
        RequeueAtHead(requeue);
        return deadLetters;
    }

    /// <summary>A settling message could not be moved (e.g. the dead-letter queue is full): back to the head.</summary>
    public void Unsettle(QueuedMessage message)
    {
        if (_settling.Remove(message.Seq)) RequeueAtHead([message]);
    }

    /// <summary>
    /// Persistent messages at the head that were delivered before and whose next delivery the journal does not
    /// cover yet, at most <paramref name="max"/>: what a <see cref="MessagesRedelivered"/> must name before
    /// dispatch can go on. Redelivered messages are a prefix of the pending ones (they go back to the head; after
    /// recovery they are those at or below the mark), so the scan ends at the first never-delivered message.
    /// </summary>
    public List<long> UnjournalledRedeliveries(int max)
    {
        var seqs = new List<long>();
        foreach (var message in _pending)
        {
            if (message.DeliveryCount == 0 || seqs.Count == max) break;
            if (message.Message.Persistent && message.DeliveryCount >= JournalledDeliveries(message))
                seqs.Add(message.Seq);
        }
        return seqs;
    }

    /// <summary>A <see cref="MessagesRedelivered"/> is journalled (or replayed): each pending message it names may be delivered once more.</summary>
    public void CountRedeliveries(IEnumerable<long> seqs)
    {
        foreach (var seq in seqs)
        {
            if (_pendingBySeq.TryGetValue(seq, out var node)) node.Value.JournalledRedeliveries++;
        }
    }

    /// <summary>The persistent messages held, in the order they would be delivered after a restart.</summary>
    public QueueSnapshot ToSnapshot()
    {
        var taken = _settling.Values.Concat(_consumers.SelectMany(c => c.Unacked.Values))
            .Where(m => m.Message.Persistent)
            .OrderBy(m => m.Seq);
        var held = taken.Concat(_pending.Where(m => m.Message.Persistent)).ToList();
        var messages = held.Select(m => new EnqueuedMessage(m.Seq, m.Message)).ToList();
        var redeliveries = held.Where(m => m.JournalledRedeliveries > 0)
            .Select(m => new RedeliveryCount(m.Seq, m.JournalledRedeliveries))
            .ToList();
        return new QueueSnapshot(NextSeq, DispatchMark, messages, redeliveries);
    }

    /// <summary>Replaces the state with a snapshot (recovery only: no consumers exist yet).</summary>
    public void LoadSnapshot(QueueSnapshot snapshot)
    {
        _pending.Clear();
        _pendingBySeq.Clear();
        _settling.Clear();
        TotalBytes = 0;
        Enqueue(snapshot.Messages);
        foreach (var r in snapshot.Redeliveries)
        {
            if (_pendingBySeq.TryGetValue(r.Seq, out var node)) node.Value.JournalledRedeliveries = r.Count;
        }
        NextSeq = Math.Max(NextSeq, snapshot.NextSeq);
        DispatchMark = snapshot.DispatchMark;
    }

    /// <summary>
    /// After replay: every delivery the journal covered may have happened before the crash, so each message counts
    /// them all (1 at or below the recovered mark, plus its journalled redeliveries) and one with any is flagged
    /// redelivered. New messages get seqs above the mark, so they are never flagged. Never a false negative; false
    /// positives: the mark runs up to redelivery-mark-window - 1 seqs ahead of the last delivery, so at most that many
    /// never-delivered messages are flagged redelivered with a count of 1, and a redelivery journalled but not made
    /// before the crash (its consumer left meanwhile) counts one delivery too many.
    /// </summary>
    public void CompleteRecovery()
    {
        foreach (var message in _pending)
        {
            message.DeliveryCount = JournalledDeliveries(message);
            message.Redelivered = message.DeliveryCount > 0;
        }
        NextSeq = Math.Max(NextSeq, DispatchMark + 1);
    }

    /// <summary>Deliveries of a persistent message the journal covers: the first once the mark passed it, then one per journalled redelivery.</summary>
    private int JournalledDeliveries(QueuedMessage message) =>
        (message.Seq <= DispatchMark ? 1 : 0) + message.JournalledRedeliveries;

    private QueueConsumer? NextConsumerWithCapacity()
    {
        for (var i = 0; i < _consumers.Count; i++)
        {
            var index = (_nextConsumer + i) % _consumers.Count;
            if (!_consumers[index].HasCapacity) continue;
            _nextConsumer = (index + 1) % _consumers.Count;
            return _consumers[index];
        }
        return null;
    }

    private void RequeueAtHead(IEnumerable<QueuedMessage> messages)
    {
        // Walk in descending seq so that AddFirst leaves them in their original order.
        foreach (var message in messages.OrderByDescending(m => m.Seq))
        {
            message.Redelivered = true;
            _pendingBySeq[message.Seq] = _pending.AddFirst(message);
        }
    }
}
