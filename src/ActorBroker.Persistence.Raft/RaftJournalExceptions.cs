namespace ActorBroker.Persistence.Raft;

/// <summary>Base of every error of the Raft journal; the message names the cause.</summary>
public class RaftJournalException(string message, Exception? inner = null) : Exception("raft journal: " + message, inner);

/// <summary>
/// A write was not committed by a majority within <c>write-timeout</c> (no quorum, no leader, or the leader changed
/// too often). Its outcome is unknown: it was never acknowledged and may or may not appear in a later replay.
/// </summary>
public sealed class RaftJournalTimeoutException(string message, Exception? inner = null) : RaftJournalException(message, inner);

/// <summary>
/// The replicated state machine refused a write: its sequence numbers are not above the persistence id's highest
/// (a stale master writing after a takeover), or its fencing epoch is older than one already applied.
/// </summary>
public sealed class RaftJournalWriteRefusedException(string message) : RaftJournalException(message);

/// <summary>A read could not pass its read barrier (no leader reachable) within <c>read-timeout</c>.</summary>
public sealed class RaftJournalReadBarrierException(string message, Exception? inner = null) : RaftJournalException(message, inner);
