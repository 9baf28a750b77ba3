using ActorBroker.Coordination;
using ActorBroker.Persistence.Raft.Internal;
using Akka.Persistence;
using Akka.Persistence.Snapshot;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// Akka.Persistence snapshot store replicated through the same Raft log as <see cref="RaftJournal"/>: a save or
/// delete completes once committed by a majority and applied here; a load passes a read barrier first.
/// </summary>
public sealed class RaftSnapshotStore : SnapshotStore
{
    private readonly RaftReplication _replication;
    private readonly FencingTokens _fencing;
    private readonly Akka.Serialization.Serializer _serializer;

    public RaftSnapshotStore()
    {
        _replication = RaftReplication.Get(Context.System);
        _fencing = FencingTokens.Get(Context.System);
        _serializer = Context.System.Serialization.FindSerializerForType(typeof(Akka.Persistence.Serialization.Snapshot));
    }

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var replica = await _replication.Replica.ConfigureAwait(false);
        await replica.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        var stored = replica.StateMachine.LatestSnapshot(persistenceId, criteria.MaxSequenceNr, criteria.MaxTimeStamp.Ticks,
            criteria.MinSequenceNr, criteria.MinTimestamp?.Ticks ?? 0L);
        if (stored is null) return null;
        var snapshot = (Akka.Persistence.Serialization.Snapshot)_serializer.FromBinary(stored.Bytes, typeof(Akka.Persistence.Serialization.Snapshot));
        return new SelectedSnapshot(new SnapshotMetadata(persistenceId, stored.SequenceNr, new DateTime(stored.TimestampTicks, DateTimeKind.Utc)), snapshot.Data);
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var bytes = _serializer.ToBinary(new Akka.Persistence.Serialization.Snapshot(snapshot));
        return SubmitAsync(new StoreSnapshot(OperationIds.Next(), _fencing.Current,
            new StoredSnapshot(metadata.PersistenceId, metadata.SequenceNr, metadata.Timestamp.Ticks, bytes)), cancellationToken);
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        // DateTime.MinValue means "any timestamp" (Akka deletes by sequence number then)
        var anyTime = metadata.Timestamp == DateTime.MinValue;
        return SubmitAsync(new RemoveSnapshots(OperationIds.Next(), _fencing.Current, metadata.PersistenceId,
            metadata.SequenceNr, metadata.SequenceNr,
            anyTime ? 0L : metadata.Timestamp.Ticks, anyTime ? long.MaxValue : metadata.Timestamp.Ticks), cancellationToken);
    }

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
        => SubmitAsync(new RemoveSnapshots(OperationIds.Next(), _fencing.Current, persistenceId,
            criteria.MinSequenceNr, criteria.MaxSequenceNr, criteria.MinTimestamp?.Ticks ?? 0L, criteria.MaxTimeStamp.Ticks), cancellationToken);

    private async Task SubmitAsync(JournalOperation operation, CancellationToken cancellationToken)
    {
        var replica = await _replication.Replica.ConfigureAwait(false);
        var outcome = (await replica.SubmitAsync([operation], cancellationToken).ConfigureAwait(false))[0];
        if (!outcome.IsApplied) throw new RaftJournalWriteRefusedException(outcome.Detail);
    }
}
