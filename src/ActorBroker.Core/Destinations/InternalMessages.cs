using Akka.Actor;

namespace ActorBroker.Core.Destinations;

// Messages between the broker manager and its destination actors (never seen by sessions).

/// <summary>
/// Broker manager → topic. Fan persistent and non-persistent messages out to this durable subscription too
/// (as <see cref="Protocol.SendBatch"/>, Sender = the topic); the topic confirms a send only after every attached
/// durable subscription replied <see cref="Protocol.SendConfirmed"/>. No reply.
/// </summary>
internal sealed record AttachDurableSubscription(IActorRef Subscription);

/// <summary>Broker manager → topic. Stop feeding this durable subscription (it was removed). No reply.</summary>
internal sealed record DetachDurableSubscription(IActorRef Subscription);

/// <summary>
/// Durable subscription → broker manager (its parent). A client asked to remove the subscription; the
/// manager journals the removal, detaches it from its topic and replies <see cref="DeleteDurableSubscription"/>.
/// </summary>
internal sealed record RemoveDurableSubscription(string ClientId, string SubscriptionName);

/// <summary>
/// Broker manager → durable subscription, after the removal is journalled. The subscription deletes its
/// journal and snapshots, then stops. No reply (the manager watches it).
/// </summary>
internal sealed class DeleteDurableSubscription
{
    public static readonly DeleteDurableSubscription Instance = new();
    private DeleteDurableSubscription() { }
}
