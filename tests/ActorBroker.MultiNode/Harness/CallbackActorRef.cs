using Akka.Actor;

namespace ActorBroker.MultiNode.Harness;

/// <summary>
/// An ActorRef whose Tell runs a callback on the sender's thread. EventStream and cluster subscribers must be
/// IActorRefs; this one records events at the instant they are published and outlives the node's actors.
/// </summary>
internal sealed class CallbackActorRef(ActorPath path, IActorRefProvider provider, Action<object> onMessage) : MinimalActorRef
{
    public override ActorPath Path { get; } = path;

    public override IActorRefProvider Provider { get; } = provider;

    public static CallbackActorRef For(ActorSystem system, string name, Action<object> onMessage)
    {
        var provider = ((ExtendedActorSystem)system).Provider;
        return new CallbackActorRef(new RootActorPath(provider.DefaultAddress) / "temp" / $"{name}-{Guid.NewGuid():N}", provider, onMessage);
    }

    protected override void TellInternal(object message, IActorRef sender) => onMessage(message);
}
