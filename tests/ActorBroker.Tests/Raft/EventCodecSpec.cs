using ActorBroker.Persistence.Raft.Internal;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>The stored form of one event in the Raft journal: compact, and events stored in the older form still read.</summary>
public sealed class EventCodecSpec : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("event-codec-spec");

    [Fact(DisplayName = "Raft event codec round-trips payload, timestamp, adapter manifest and writer guid")]
    public void RoundTrip()
    {
        var serialization = _system.Serialization;
        var serializer = serialization.FindSerializerFor("hello é");
        var stored = EventCodec.Encode(638_000_000_000_000_000, serializer.Identifier,
            Akka.Serialization.Serialization.ManifestFor(serializer, "hello é"), "adapter-v2", "writer-1", serializer.ToBinary("hello é"));

        Assert.True(EventCodec.IsCompact(stored));
        var persistent = EventCodec.Decode(stored, "pid-1", 7, serialization);
        Assert.Equal("hello é", persistent.Payload);
        Assert.Equal("pid-1", persistent.PersistenceId);
        Assert.Equal(7, persistent.SequenceNr);
        Assert.Equal("adapter-v2", persistent.Manifest);
        Assert.Equal("writer-1", persistent.WriterGuid);
        Assert.Equal(638_000_000_000_000_000, persistent.Timestamp);
    }

    [Fact(DisplayName = "Raft event codec tells events stored as Akka Persistent messages (older form, tagged events) apart")]
    public void RecognizesPersistentForm()
    {
        var persistent = new Persistent(new Tagged("x", ["t"]), 1, "pid", "", false, ActorRefs.NoSender, "w");
        var bytes = _system.Serialization.FindSerializerForType(typeof(Persistent)).ToBinary(persistent);
        Assert.False(EventCodec.IsCompact(bytes));
    }

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
