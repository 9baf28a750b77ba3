using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace ActorBroker.Core.Destinations;

/// <summary>
/// A durable topic subscription (persistence id <c>durable:CLIENTID:NAME</c>): a queue fed by its topic, which
/// keeps what is published while no consumer is attached. At most one consumer at a time (ActiveMQ semantics).
/// Unsubscribe with RemoveDurable asks the broker manager to remove it; the manager answers
/// <see cref="DeleteDurableSubscription"/>, and then it deletes its journal and stops.
/// </summary>
internal sealed class DurableSubscription : QueueActorBase
{
    private readonly string _clientId;
    private readonly string _subscriptionName;
    private bool _removed;

    public DurableSubscription(string clientId, string subscriptionName, BrokerSettings settings)
        : base(settings, PersistenceIdFor(clientId, subscriptionName))
    {
        _clientId = clientId;
        _subscriptionName = subscriptionName;
    }

    public static string PersistenceIdFor(string clientId, string subscriptionName) => $"durable:{clientId}:{subscriptionName}";

    public static Props Props(string clientId, string subscriptionName, BrokerSettings settings) =>
        Akka.Actor.Props.Create(() => new DurableSubscription(clientId, subscriptionName, settings));

    protected override string Describe => $"durable subscription [{_clientId}:{_subscriptionName}]";

    protected override bool ReceiveCommand(object message)
    {
        if (!_removed) return base.ReceiveCommand(message);
        switch (message)
        {
            // The topic may still feed it until it processes the detach: accept and forget.
            case SendBatch batch:
                Sender.Tell(new SendConfirmed(batch.CorrelationId));
                return true;
            case Subscribe subscribe:
                Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, $"{Describe} has been removed"));
                return true;
            case Ack ack:
                Sender.Tell(new AckConfirmed(ack.CorrelationId));
                return true;
            case Nack nack:
                Sender.Tell(new AckConfirmed(nack.CorrelationId));
                return true;
            case DeleteMessagesSuccess:
                Context.Stop(Self);
                return true;
            case DeleteMessagesFailure failure:
                Log.Warning(failure.Cause, "{0}: deleting its journal failed; stopping anyway", Describe);
                Context.Stop(Self);
                return true;
            default:
                return base.ReceiveCommand(message);
        }
    }

    protected override void HandleSubscribe(Subscribe subscribe)
    {
        if (State.Consumers.Count > 0)
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId,
                $"durable consumer already active for client id [{_clientId}] and subscription name [{_subscriptionName}]"));
            return;
        }
        base.HandleSubscribe(subscribe);
    }

    protected override void HandleUnsubscribe(Unsubscribe unsubscribe)
    {
        var isConsumer = State.FindConsumer(Sender, unsubscribe.SubscriptionId) is not null;
        base.HandleUnsubscribe(unsubscribe);
        // Only the active consumer, or anyone while none is active, may remove it.
        if (unsubscribe.RemoveDurable && (isConsumer || State.Consumers.Count == 0))
            Context.Parent.Tell(new RemoveDurableSubscription(_clientId, _subscriptionName));
    }

    protected override bool ReceiveOther(object message)
    {
        if (message is not DeleteDurableSubscription) return false;
        _removed = true;
        foreach (var consumer in State.Consumers.ToList()) State.RemoveConsumer(consumer);
        DeleteSnapshots(SnapshotSelectionCriteria.Latest);
        DeleteMessages(long.MaxValue);
        return true;
    }
}
