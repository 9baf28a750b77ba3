namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// One change to the replicated journal state. Many operations (from many writers) are packed into one Raft log
/// entry by the group committer. <see cref="Id"/> makes retries after a leader change idempotent; <see cref="Epoch"/>
/// is the writer's fencing token (lease epoch): an operation older than the newest applied epoch is refused.
/// </summary>
internal abstract record JournalOperation(Guid Id, long Epoch);

/// <summary>One AtomicWrite: events of one persistence id, ascending sequence numbers, applied all or nothing.</summary>
internal sealed record WriteEvents(Guid Id, long Epoch, string PersistenceId, IReadOnlyList<StoredEvent> Events)
    : JournalOperation(Id, Epoch);

/// <summary>
/// An event as stored: its sequence number and the Akka-serialized IPersistentRepresentation. Decoded from a log entry
/// the bytes are a slice of the entry's buffer, valid only while the entry is applied (the state copies them).
/// </summary>
internal sealed record StoredEvent(long SequenceNr, ReadOnlyMemory<byte> Bytes);

/// <summary>Deletes the events of a persistence id up to and including a sequence number (highest is kept).</summary>
internal sealed record DeleteEventsTo(Guid Id, long Epoch, string PersistenceId, long ToSequenceNr)
    : JournalOperation(Id, Epoch);

/// <summary>Stores (or replaces) the snapshot of a persistence id at a sequence number.</summary>
internal sealed record StoreSnapshot(Guid Id, long Epoch, StoredSnapshot Snapshot) : JournalOperation(Id, Epoch);

/// <summary>A snapshot as stored: metadata plus the Akka-serialized snapshot payload.</summary>
internal sealed record StoredSnapshot(string PersistenceId, long SequenceNr, long TimestampTicks, byte[] Bytes);

/// <summary>
/// Deletes the snapshots of a persistence id whose sequence number and timestamp fall in the given ranges
/// (both inclusive). Deleting one snapshot uses a range of one sequence number.
/// </summary>
internal sealed record RemoveSnapshots(Guid Id, long Epoch, string PersistenceId,
    long MinSequenceNr, long MaxSequenceNr, long MinTimestampTicks, long MaxTimestampTicks) : JournalOperation(Id, Epoch);

/// <summary>
/// A read point: changes nothing, but once the entry carrying it is committed and applied here, so is every entry
/// before it in the log, including the tail of an earlier leader's term that no commit index announced yet (a new
/// leader learns that tail is committed only by committing an entry of its own term). Never fenced, never remembered.
/// </summary>
internal sealed record ReadMark(Guid Id) : JournalOperation(Id, 0);

/// <summary>What the state machine did with an operation, identical on every replica.</summary>
internal enum OutcomeCode : byte
{
    Applied = 0,
    SequenceConflict = 1,
    Fenced = 2,
}

/// <summary>The outcome of an operation and the index of the log entry that applied it.</summary>
internal readonly record struct OperationOutcome(OutcomeCode Code, long LogIndex, string Detail)
{
    public bool IsApplied => Code == OutcomeCode.Applied;
}
