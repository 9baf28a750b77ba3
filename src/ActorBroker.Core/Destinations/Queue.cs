using Akka.Actor;

namespace ActorBroker.Core.Destinations;

/// <summary>
/// A point-to-point queue (persistence id <c>queue:NAME</c>): competing consumers, round-robin within their
/// prefetch, unacknowledged messages redelivered at the head. A child of the broker manager, which forwards
/// Send/SendBatch/Subscribe to it; sessions then talk to it directly.
/// </summary>
internal sealed class Queue : QueueActorBase
{
    private readonly string _name;

    public Queue(string name, BrokerSettings settings) : base(settings, PersistenceIdFor(name))
    {
        _name = name;
    }

    public static string PersistenceIdFor(string name) => "queue:" + name;

    public static Props Props(string name, BrokerSettings settings) => Akka.Actor.Props.Create(() => new Queue(name, settings));

    protected override string Describe => $"queue [{_name}]";

    protected override bool IsDeadLetterQueue => _name == Settings.DeadLetterQueue;
}
