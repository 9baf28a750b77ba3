using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>The replicated journal state machine's rules, applied directly (no Raft): every replica runs exactly these.</summary>
public sealed class JournalStateSpec : IDisposable
{
    private readonly TempDirectory _bodies = new("raft-state-spec");
    private readonly List<JournalState> _states = [];

    /// <summary>A state whose event bodies go to a directory of its own, disposed with the spec.</summary>
    private JournalState NewState(int dedupWindow)
    {
        var state = new JournalState(dedupWindow, new DirectoryInfo(_bodies.Combine($"state{_states.Count}")));
        _states.Add(state);
        return state;
    }

    /// <summary>Serializes <paramref name="from"/> and restores <paramref name="into"/> from that image.</summary>
    private static void RoundTrip(JournalState from, JournalState into)
    {
        using var image = new MemoryStream();
        from.Serialize(image);
        image.Position = 0;
        into.Restore(image);
    }

    public void Dispose()
    {
        foreach (var state in _states) state.Dispose();
        _bodies.Dispose();
    }

    private static WriteEvents Write(string pid, long from, int count, long epoch = 0, Guid? id = null)
        => new(id ?? Guid.NewGuid(), epoch, pid,
            Enumerable.Range(0, count).Select(i => new StoredEvent(from + i, new byte[] { (byte)(from + i) })).ToList());

    private static long[] Seqs(JournalState state, string pid) => state.ReadEvents(pid, 1, long.MaxValue, long.MaxValue).Select(e => e.SequenceNr).ToArray();

    [Fact(DisplayName = "Raft journal state appends atomic writes in order and tracks the highest sequence number")]
    public void AppendsInOrder()
    {
        var state = NewState(100);
        Assert.True(state.Apply(Write("a", 1, 3), 1).IsApplied);
        Assert.True(state.Apply(Write("a", 4, 2), 2).IsApplied);
        Assert.Equal([1L, 2, 3, 4, 5], Seqs(state, "a"));
        Assert.Equal(5, state.HighestSequenceNr("a"));
        Assert.Equal([2L, 3], state.ReadEvents("a", 2, 3, 10).Select(e => e.SequenceNr));
        Assert.Equal([1L, 2], state.ReadEvents("a", 1, 5, 2).Select(e => e.SequenceNr));
    }

    [Fact(DisplayName = "Raft journal state refuses a write at or below the highest sequence number (a stale writer cannot fork history)")]
    public void RefusesSequenceConflict()
    {
        var state = NewState(100);
        state.Apply(Write("a", 1, 3), 1);
        var outcome = state.Apply(Write("a", 3, 1), 2);
        Assert.Equal(OutcomeCode.SequenceConflict, outcome.Code);
        Assert.Contains("[a]", outcome.Detail);
        Assert.Equal([1L, 2, 3], Seqs(state, "a"));
    }

    [Fact(DisplayName = "Raft journal state refuses operations stamped with an epoch older than one already applied")]
    public void FencesOlderEpochs()
    {
        var state = NewState(100);
        Assert.True(state.Apply(Write("a", 1, 1, epoch: 1), 1).IsApplied);
        Assert.True(state.Apply(Write("b", 1, 1, epoch: 2), 2).IsApplied);
        var stale = state.Apply(Write("a", 2, 1, epoch: 1), 3);
        Assert.Equal(OutcomeCode.Fenced, stale.Code);
        Assert.Contains("epoch 1", stale.Detail);
        Assert.Equal(1, state.HighestSequenceNr("a"));
        Assert.True(state.Apply(Write("a", 2, 1, epoch: 2), 4).IsApplied);
    }

    [Fact(DisplayName = "Raft journal state applies a read mark without effect, unfenced and unremembered, whatever the newest epoch")]
    public void ReadMarkChangesNothing()
    {
        var state = NewState(1);
        Assert.True(state.Apply(Write("a", 1, 2, epoch: 5), 1).IsApplied);
        var before = state.Digest();
        var mark = new ReadMark(Guid.NewGuid());
        var outcome = state.Apply(mark, 2);
        Assert.True(outcome.IsApplied);                          // epoch 0 < 5, yet not fenced
        Assert.Equal(2, outcome.LogIndex);
        Assert.Equal(before, state.Digest());
        var write = Write("b", 1, 1, epoch: 5);
        state.Apply(write, 3);
        Assert.True(state.Apply(mark, 4).IsApplied);              // does not push the write out of a window of one
        Assert.True(state.Apply(write, 5).IsApplied);             // a retry answered from memory, not a sequence conflict
    }

    [Fact(DisplayName = "Raft journal state applies a retried operation id once and answers the retry with the first outcome")]
    public void RetriesAreIdempotent()
    {
        var state = NewState(100);
        var id = Guid.NewGuid();
        Assert.True(state.Apply(Write("a", 1, 2, id: id), 1).IsApplied);
        var retry = state.Apply(Write("a", 1, 2, id: id), 7);
        Assert.True(retry.IsApplied);
        Assert.Equal(7, retry.LogIndex);
        Assert.Equal([1L, 2], Seqs(state, "a"));
    }

    [Fact(DisplayName = "Raft journal state deletes events up to a sequence number but keeps the highest")]
    public void DeleteKeepsHighest()
    {
        var state = NewState(100);
        state.Apply(Write("a", 1, 5), 1);
        state.Apply(new DeleteEventsTo(Guid.NewGuid(), 0, "a", 3), 2);
        Assert.Equal([4L, 5], Seqs(state, "a"));
        state.Apply(new DeleteEventsTo(Guid.NewGuid(), 0, "a", 100), 3);
        Assert.Empty(Seqs(state, "a"));
        Assert.Equal(5, state.HighestSequenceNr("a"));
        Assert.Equal(OutcomeCode.SequenceConflict, state.Apply(Write("a", 5, 1), 4).Code);
    }

    [Fact(DisplayName = "Raft journal state selects the newest snapshot within bounds and deletes by criteria")]
    public void Snapshots()
    {
        var state = NewState(100);
        foreach (var seq in new long[] { 10, 20, 30 })
            state.Apply(new StoreSnapshot(Guid.NewGuid(), 0, new StoredSnapshot("a", seq, seq * 100, [(byte)seq])), seq);
        Assert.Equal(30, state.LatestSnapshot("a", long.MaxValue, long.MaxValue, 0, 0)!.SequenceNr);
        Assert.Equal(20, state.LatestSnapshot("a", 25, long.MaxValue, 0, 0)!.SequenceNr);
        Assert.Equal(10, state.LatestSnapshot("a", long.MaxValue, 1500, 0, 0)!.SequenceNr);
        state.Apply(new RemoveSnapshots(Guid.NewGuid(), 0, "a", 0, 20, 0, long.MaxValue), 40);
        Assert.Null(state.LatestSnapshot("a", 25, long.MaxValue, 0, 0));
        Assert.Equal(30, state.LatestSnapshot("a", long.MaxValue, long.MaxValue, 0, 0)!.SequenceNr);
    }

    [Fact(DisplayName = "Raft journal state survives a serialize/restore round trip, including epoch and retry memory")]
    public void SerializeRestoreRoundTrip()
    {
        var state = NewState(100);
        var id = Guid.NewGuid();
        state.Apply(Write("a", 1, 3, epoch: 4, id: id), 1);
        state.Apply(new DeleteEventsTo(Guid.NewGuid(), 4, "a", 1), 2);
        state.Apply(new StoreSnapshot(Guid.NewGuid(), 4, new StoredSnapshot("b", 9, 99, [1, 2, 3])), 3);

        var copy = NewState(100);
        RoundTrip(state, copy);
        Assert.Equal(state.Digest(), copy.Digest());
        Assert.Equal(4, copy.MaxEpoch);
        Assert.True(copy.Apply(Write("a", 1, 3, epoch: 4, id: id), 4).IsApplied); // remembered: not applied twice
        Assert.Equal(state.Digest(), copy.Digest());
    }

    [Fact(DisplayName = "Raft journal state forgets operation ids beyond the dedup window, oldest first")]
    public void DedupWindowIsBounded()
    {
        var state = NewState(2);
        var first = Guid.NewGuid();
        state.Apply(Write("a", 1, 1, id: first), 1);
        state.Apply(Write("b", 1, 1), 2);
        state.Apply(Write("c", 1, 1), 3);
        // 'first' fell out of the window: a retry is now judged on its sequence numbers (a conflict), never re-applied
        Assert.Equal(OutcomeCode.SequenceConflict, state.Apply(Write("a", 1, 1, id: first), 4).Code);
    }

    [Fact(DisplayName = "Raft journal state estimates its indexed snapshot's size (24 bytes an event, Akka snapshots inline, recent outcomes) through writes, deletes, snapshots and a restore")]
    public void EstimatesSnapshotBytes()
    {
        static long Expected(int events, int snapshotPayload, int operations) => 24L * events + snapshotPayload + 32L * operations;
        var state = NewState(100);
        state.Apply(new WriteEvents(Guid.NewGuid(), 0, "a", [new StoredEvent(1, new byte[10]), new StoredEvent(2, new byte[20])]), 1);
        state.Apply(new WriteEvents(Guid.NewGuid(), 0, "b", [new StoredEvent(1, new byte[5])]), 2);
        Assert.Equal(Expected(3, 0, 2), state.SnapshotBytes);
        state.Apply(new DeleteEventsTo(Guid.NewGuid(), 0, "a", 1), 3);
        Assert.Equal(Expected(2, 0, 3), state.SnapshotBytes);
        state.Apply(new StoreSnapshot(Guid.NewGuid(), 0, new StoredSnapshot("a", 2, 1, new byte[100])), 4);
        state.Apply(new StoreSnapshot(Guid.NewGuid(), 0, new StoredSnapshot("a", 2, 2, new byte[50])), 5); // replaces seq 2
        Assert.Equal(Expected(2, 50, 5), state.SnapshotBytes);
        var copy = NewState(100);
        RoundTrip(state, copy);
        Assert.Equal(Expected(2, 50, 5), copy.SnapshotBytes);
        state.Apply(new RemoveSnapshots(Guid.NewGuid(), 0, "a", 0, long.MaxValue, 0, long.MaxValue), 6);
        Assert.Equal(Expected(2, 0, 6), state.SnapshotBytes);
    }
}
