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
