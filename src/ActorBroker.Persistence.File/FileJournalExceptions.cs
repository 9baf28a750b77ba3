namespace ActorBroker.Persistence.File;

/// <summary>
/// A write was refused because a writer with a higher lease epoch has taken over the journal directory.
/// The writing node is a stale master: its persistent actors must stop, nothing it writes is replayed.
/// </summary>
public sealed class FencedOutException(string directory, long writerEpoch, long fenceEpoch)
    : IOException($"Journal [{directory}] is fenced by epoch [{fenceEpoch}]; this writer holds the older epoch [{writerEpoch}] and may not append")
{
    public long WriterEpoch { get; } = writerEpoch;
    public long FenceEpoch { get; } = fenceEpoch;
}

/// <summary>The bounded write queue of the file journal was full; the write was not attempted.</summary>
public sealed class JournalOverloadedException(string directory, int capacity)
    : IOException($"Journal [{directory}] write queue is full ([{capacity}] pending writes, key write-queue-size); write not attempted");

/// <summary>The file journal was stopped before a queued write could be committed.</summary>
public sealed class JournalStoppedException(string directory)
    : IOException($"Journal [{directory}] stopped before the write was committed; its outcome is unknown");

/// <summary>
/// A write would store a sequence number its persistence id already has. Two writers of one id, or a writer with a
/// stale view, would fork the history; the write fails and the stored history stays.
/// </summary>
public sealed class DuplicateSequenceNrException(string persistenceId, long sequenceNr, long highestStored)
    : IOException($"Persistence id [{persistenceId}] already has events up to [{highestStored}]; refusing to write sequence number [{sequenceNr}] again");
