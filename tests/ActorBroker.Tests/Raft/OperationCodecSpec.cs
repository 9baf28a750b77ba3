using ActorBroker.Persistence.Raft.Internal;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>The binary form of operation batches (Raft log entry payload and forwarding request).</summary>
public sealed class OperationCodecSpec
{
    private static readonly List<JournalOperation> Batch =
    [
        new WriteEvents(Guid.NewGuid(), 3, "pid-é", [new StoredEvent(1, new byte[] { 1, 2 }), new StoredEvent(2, new byte[0])]),
        new DeleteEventsTo(Guid.NewGuid(), 3, "pid", 7),
        new StoreSnapshot(Guid.NewGuid(), 0, new StoredSnapshot("pid", 5, 638000000000000000, new byte[10_000])),
        new RemoveSnapshots(Guid.NewGuid(), 9, "pid", 1, 2, 3, 4),
        new ReadMark(Guid.NewGuid()),
    ];

    [Fact(DisplayName = "Operation codec round-trips every operation kind")]
    public void RoundTrip()
    {
        var decoded = OperationCodec.Decode(OperationCodec.Encode(Batch));
        Assert.Equal(Batch.Count, decoded.Count);
        var write = Assert.IsType<WriteEvents>(decoded[0]);
        Assert.Equal(Batch[0].Id, write.Id);
        Assert.Equal("pid-é", write.PersistenceId);
        Assert.Equal([1L, 2], write.Events.Select(e => e.SequenceNr));
        Assert.Equal(new byte[] { 1, 2 }, write.Events[0].Bytes.ToArray());
        Assert.Equal(Batch[1], decoded[1]);
        var snapshot = Assert.IsType<StoreSnapshot>(decoded[2]);
        Assert.Equal(10_000, snapshot.Snapshot.Bytes.Length);
        Assert.Equal(638000000000000000, snapshot.Snapshot.TimestampTicks);
        Assert.Equal(Batch[3], decoded[3]);
        Assert.Equal(Batch[4], decoded[4]);
    }

    [Fact(DisplayName = "Operation codec rejects an unknown format version with a message naming it")]
    public void RejectsUnknownVersion()
    {
        var bytes = OperationCodec.Encode(Batch);
        bytes[0] = 99;
        var error = Assert.Throws<InvalidDataException>(() => OperationCodec.Decode(bytes));
        Assert.Contains("[99]", error.Message);
    }

    [Fact(DisplayName = "Operation codec fails on every truncation of a batch instead of returning a partial batch")]
    public void RejectsTruncation()
    {
        var bytes = OperationCodec.Encode(Batch[..2]);
        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes.AsSpan(0, length).ToArray();
            Assert.ThrowsAny<IOException>(() => OperationCodec.Decode(cut)); // EndOfStream / InvalidData
        }
    }
}
