using ActorBroker.Core;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using ActorBroker.Core.Serialization;
using Akka.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Core;

public sealed class BrokerEventSerializerSpec : CoreSpec
{
    public BrokerEventSerializerSpec(ITestOutputHelper output) : base(output)
    {
    }

    private static readonly BrokerMessage Sample = new(
        "ID:node-1:42", Destination.Queue("zürich/队列"), true, 1_700_000_000_123,
        [new("content-type", "text/plain"), new("ключ", "значение"), new("empty", "")],
        new byte[] { 0, 1, 2, 255 });

    public static TheoryData<string, IBrokerEvent> Events() => new()
    {
        { "destination created", new DestinationCreated(Destination.Topic("news")) },
        { "durable created", new DurableSubscriptionCreated("client", "sub", "news") },
        { "durable removed", new DurableSubscriptionRemoved("client", "sub") },
        { "registry snapshot", new RegistrySnapshot([Destination.Queue("a"), Destination.Topic("b")], [new DurableSubscriptionEntry("c", "d", "b")]) },
        { "messages enqueued", new MessagesEnqueued([new EnqueuedMessage(1, Sample), new EnqueuedMessage(7, Sample with { Persistent = false, Headers = [], Body = Array.Empty<byte>() })]) },
        { "messages removed", new MessagesRemoved([1, 2, long.MaxValue]) },
        { "dispatch mark", new DispatchMarkAdvanced(12345) },
        { "queue snapshot", new QueueSnapshot(10, 9, [new EnqueuedMessage(3, Sample)]) },
        { "queue snapshot with redelivery counts", new QueueSnapshot(10, 9, [new EnqueuedMessage(3, Sample), new EnqueuedMessage(4, Sample)], [new RedeliveryCount(3, 2)]) },
        { "messages redelivered", new MessagesRedelivered([3, 4, long.MaxValue]) },
    };

    [Theory(DisplayName = "Every journal event and snapshot type round-trips through the bound binary serializer")]
    [MemberData(nameof(Events))]
    public void RoundTrips(string name, IBrokerEvent evt)
    {
        var serializer = Sys.Serialization.FindSerializerFor(evt);
        Assert.IsType<BrokerEventSerializer>(serializer);
        var manifest = Serialization.ManifestFor(serializer, evt);
        var bytes = serializer.ToBinary(evt);
        Assert.Equal(BrokerEventSerializer.FormatVersion, bytes[0]);

        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(Describe(evt), Describe(back));
        Assert.False(string.IsNullOrEmpty(name));
    }

    [Fact(DisplayName = "A queue snapshot in the first layout (manifest QS, no redelivery counts) still reads, and one without counts is still written so")]
    public void ReadsFirstQueueSnapshotLayout()
    {
        // version 1 | next seq 10 | dispatch mark 9 | no messages: what every earlier version wrote.
        byte[] stored = [1, 10, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(QueueSnapshot));

        var snapshot = Assert.IsType<QueueSnapshot>(serializer.FromBinary(stored, "QS"));
        Assert.Equal((10L, 9L), (snapshot.NextSeq, snapshot.DispatchMark));
        Assert.Empty(snapshot.Messages);
        Assert.Empty(snapshot.Redeliveries);
        Assert.Equal("QS", serializer.Manifest(snapshot));
        Assert.Equal(stored, serializer.ToBinary(snapshot));
    }

    [Fact(DisplayName = "A payload with an unknown format version byte is refused with a message naming the version")]
    public void RejectsUnknownVersion()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(DispatchMarkAdvanced));
        var bytes = serializer.ToBinary(new DispatchMarkAdvanced(5));
        bytes[0] = 99;
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes, serializer.Manifest(new DispatchMarkAdvanced(5))));
        Assert.Contains("format version [99]", error.Message);
    }

    [Fact(DisplayName = "A truncated payload is refused as corrupt instead of yielding a partial event")]
    public void RejectsTruncatedPayload()
    {
        var evt = new MessagesEnqueued([new EnqueuedMessage(1, Sample)]);
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(evt);
        var bytes = serializer.ToBinary(evt);
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(bytes[..^3], serializer.Manifest(evt)));
        Assert.Contains("Corrupt broker event", error.Message);
    }

    // Records holding lists and ReadOnlyMemory compare by reference; compare a full rendering instead.
    private static string Describe(object evt) => evt switch
    {
        MessagesEnqueued e => "ME " + string.Join(";", e.Messages.Select(DescribeEntry)),
        QueueSnapshot e => $"QS {e.NextSeq} {e.DispatchMark} " + string.Join(";", e.Messages.Select(DescribeEntry))
            + " | " + string.Join(",", e.Redeliveries),
        MessagesRedelivered e => "RD " + string.Join(",", e.Seqs),
        MessagesRemoved e => "MR " + string.Join(",", e.Seqs),
        RegistrySnapshot e => "RS " + string.Join(",", e.Destinations) + " | " + string.Join(",", e.DurableSubscriptions),
        _ => evt.ToString()!,
    };

    private static string DescribeEntry(EnqueuedMessage m) =>
        $"{m.Seq}:{m.Message.MessageId}:{m.Message.Destination}:{m.Message.Persistent}:{m.Message.Timestamp}:" +
        string.Join(",", m.Message.Headers.Select(h => h.Key + "=" + h.Value)) + ":" + Convert.ToHexString(m.Message.Body.Span);
}
