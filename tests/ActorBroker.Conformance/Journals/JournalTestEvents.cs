using Akka.Actor;
using Akka.Serialization;

namespace ActorBroker.Conformance.Journals;

/// <summary>An event the suite round-trips through the configured serializer (default: JSON), actor ref included.</summary>
public sealed record RoundTripEvent(string Text, long Number, IActorRef Owner);

/// <summary>An event no serializer accepts: bound to <see cref="RefusingSerializer"/> by the suite's config.</summary>
public sealed record NotSerializableEvent(string Why);

/// <summary>Throws on every call, so a journal must reject (not fail) the AtomicWrite holding such an event.</summary>
public sealed class RefusingSerializer(ExtendedActorSystem system) : Serializer(system)
{
    public override int Identifier => 9901;
    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new System.Runtime.Serialization.SerializationException($"{obj.GetType().Name} is deliberately not serializable");

    public override object FromBinary(byte[] bytes, Type? type) =>
        throw new System.Runtime.Serialization.SerializationException("RefusingSerializer never wrote anything");
}

/// <summary>
/// A persistent actor for the end-to-end case: appends strings, snapshots on "snap", answers "state" with its
/// recovered list. Checks the plugin together with Akka's Eventsourced recovery (snapshot, then later events).
/// </summary>
public sealed class ListActor : Akka.Persistence.UntypedPersistentActor
{
    private List<string> _items = [];

    public ListActor(string persistenceId) => PersistenceId = persistenceId;

    public override string PersistenceId { get; }

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case Akka.Persistence.SnapshotOffer { Snapshot: string[] items }: _items = [.. items]; break;
            case string item: _items.Add(item); break;
        }
    }

    protected override void OnCommand(object message)
    {
        switch (message)
        {
            case "state": Sender.Tell(string.Join(",", _items)); break;
            case "snap": SaveSnapshot(_items.ToArray()); break;
            case Akka.Persistence.SaveSnapshotSuccess: break;
            case string item: Persist(item, i => { _items.Add(i); Sender.Tell("ok:" + i); }); break;
        }
    }
}
