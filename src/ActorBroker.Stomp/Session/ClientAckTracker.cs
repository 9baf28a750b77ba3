using ActorBroker.Core.Protocol;

namespace ActorBroker.Stomp.Session;

/// <summary>
/// The MESSAGEs a session delivered on client and client-individual subscriptions and not yet
/// acknowledged, in delivery order per subscription. Turns a STOMP ACK/NACK (one id) into the core
/// delivery tags it covers: in client mode every earlier outstanding delivery of the same
/// subscription too (cumulative), in client-individual mode only the named one. Not thread-safe
/// (owned by one session actor).
/// </summary>
public sealed class ClientAckTracker
{
    private readonly record struct Outstanding(string AckId, string MessageId, long DeliveryTag);

    private sealed class SubscriptionDeliveries(AckMode mode)
    {
        public AckMode Mode { get; } = mode;
        public List<Outstanding> InOrder { get; } = [];
    }

    private readonly Dictionary<string, SubscriptionDeliveries> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _subscriptionByAckId = new(StringComparer.Ordinal);

    /// <summary>Outstanding deliveries over all subscriptions.</summary>
    public int Count => _subscriptionByAckId.Count;

    /// <summary>Records a delivery written to the client; <paramref name="ackId"/> must be unique in the session.</summary>
    public void Track(string subscriptionId, AckMode mode, string ackId, string messageId, long deliveryTag)
    {
        if (mode == AckMode.Auto)
            throw new ArgumentException("auto-ack deliveries are acknowledged on flush, not tracked", nameof(mode));
        if (!_subscriptions.TryGetValue(subscriptionId, out var deliveries))
            _subscriptions[subscriptionId] = deliveries = new SubscriptionDeliveries(mode);
        deliveries.InOrder.Add(new Outstanding(ackId, messageId, deliveryTag));
        _subscriptionByAckId.Add(ackId, subscriptionId);
    }

    /// <summary>STOMP 1.2: the subscription of the outstanding delivery whose MESSAGE carried ack:<paramref name="ackId"/>.</summary>
    public bool TryFindByAckId(string ackId, out string subscriptionId) =>
        _subscriptionByAckId.TryGetValue(ackId, out subscriptionId!);

    /// <summary>
    /// STOMP 1.0/1.1: finds an outstanding delivery by message-id, in <paramref name="subscriptionId"/>
    /// when given (1.1), else in any subscription (1.0).
    /// </summary>
    public bool TryFindByMessageId(string messageId, string? subscriptionId, out string foundSubscriptionId, out string ackId)
    {
        foreach (var (id, deliveries) in _subscriptions)
        {
            if (subscriptionId is not null && !string.Equals(id, subscriptionId, StringComparison.Ordinal))
                continue;
            foreach (var outstanding in deliveries.InOrder)
            {
                if (string.Equals(outstanding.MessageId, messageId, StringComparison.Ordinal))
                {
                    foundSubscriptionId = id;
                    ackId = outstanding.AckId;
                    return true;
                }
            }
        }

        foundSubscriptionId = ackId = string.Empty;
        return false;
    }

    /// <summary>
    /// Removes and returns the delivery tags an ACK/NACK of <paramref name="ackId"/> covers: cumulative
    /// in client mode, single in client-individual mode; empty when it is no longer outstanding.
    /// </summary>
    public IReadOnlyList<long> Take(string subscriptionId, string ackId)
    {
        if (!_subscriptions.TryGetValue(subscriptionId, out var deliveries))
            return [];
        var list = deliveries.InOrder;
        var index = list.FindIndex(o => string.Equals(o.AckId, ackId, StringComparison.Ordinal));
        if (index < 0)
            return [];

        var first = deliveries.Mode == AckMode.Client ? 0 : index;
        var tags = new long[index - first + 1];
        for (var i = first; i <= index; i++)
        {
            tags[i - first] = list[i].DeliveryTag;
            _subscriptionByAckId.Remove(list[i].AckId);
        }

        list.RemoveRange(first, index - first + 1);
        return tags;
    }

    /// <summary>Forgets a subscription's outstanding deliveries (UNSUBSCRIBE: the core requeues them).</summary>
    public void RemoveSubscription(string subscriptionId)
    {
        if (!_subscriptions.Remove(subscriptionId, out var deliveries))
            return;
        foreach (var outstanding in deliveries.InOrder)
            _subscriptionByAckId.Remove(outstanding.AckId);
    }
}
