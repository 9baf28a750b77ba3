using System.Collections.Immutable;
using ActorBroker.Coordination;
using ActorBroker.Persistence.Raft.Internal;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// Akka.Persistence journal whose writes are entries of the Raft log (see <see cref="RaftReplica"/>).
/// Contract: a write completes only after a majority committed it and this node applied it; concurrent writes are
/// group-committed into one log entry. Replay and highest-sequence-number reads pass a read barrier first, so no
/// node serves a stale replica. Serialization errors are rejections (per AtomicWrite); a write refused by the state
/// machine (sequence numbers not above the highest, i.e. a stale master, or an older fencing epoch) fails the whole
/// call so the persistent actor stops; a timeout fails it with an unknown outcome (never acknowledged).
/// Each write is stamped with <see cref="FencingTokens"/>' current epoch.
/// </summary>
public sealed class RaftJournal : AsyncWriteJournal
{
    private readonly RaftReplication _replication;
    private readonly FencingTokens _fencing;
    private readonly Akka.Serialization.Serializer _serializer;
    private readonly Akka.Serialization.Serialization _serialization;

    // The newest write in flight per persistence id: a highest-sequence-number read waits for it (Akka asks for the
    // highest right behind a write it has not yet seen acknowledged, e.g. on a persistent actor's restart).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _writesInFlight = new();

    public RaftJournal()
    {
        _replication = RaftReplication.Get(Context.System);
        _fencing = FencingTokens.Get(Context.System);
        _serializer = Context.System.Serialization.FindSerializerForType(typeof(Persistent));
        _serialization = Context.System.Serialization;
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var started = RaftProfile.Now;
        var writes = messages.ToList();
        // registered synchronously, before the journal actor handles its next message (which may be a highest read)
        var write = WriteCoreAsync(writes, cancellationToken);
        var ids = writes.Select(w => w.PersistenceId).Distinct().ToList();
        foreach (var id in ids) _writesInFlight[id] = write;
        try
        {
            return await write.ConfigureAwait(false);
        }
        finally
        {
            foreach (var id in ids) _writesInFlight.TryRemove(new KeyValuePair<string, Task>(id, write));
            RaftProfile.Count(ref RaftProfile.JournalWrites);
            RaftProfile.Add(ref RaftProfile.JournalWriteTicks, started);
        }
    }

    private async Task<IImmutableList<Exception?>> WriteCoreAsync(List<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        var results = new Exception?[writes.Count];
        var operations = new List<JournalOperation>(writes.Count);
        var epoch = _fencing.Current;
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                var payload = (IImmutableList<IPersistentRepresentation>)writes[i].Payload;
                var events = new StoredEvent[payload.Count];
                for (var j = 0; j < events.Length; j++) events[j] = new StoredEvent(payload[j].SequenceNr, Serialize(payload[j]));
                operations.Add(new WriteEvents(OperationIds.Next(), epoch, writes[i].PersistenceId, events));
            }
            catch (Exception e)
            {
                results[i] = e; // rejected: not stored, the persistent actor continues
            }
        }

        if (operations.Count > 0)
        {
            var replica = await _replication.Replica.ConfigureAwait(false);
            var outcomes = await replica.SubmitAsync(operations, cancellationToken).ConfigureAwait(false);
            var refused = outcomes.Where(o => !o.IsApplied).Select(o => o.Detail).ToList();
            if (refused.Count > 0)
                throw new RaftJournalWriteRefusedException(string.Join("; ", refused));
        }

        return results.All(r => r is null) ? null! : results.ToImmutableList();
    }

    /// <summary>Compact form (<see cref="EventCodec"/>); tagged events keep Akka's Persistent form, which carries the tags.</summary>
    private byte[] Serialize(IPersistentRepresentation e)
    {
        if (e.Payload is Tagged) return _serializer.ToBinary(e);
        var serializer = _serialization.FindSerializerFor(e.Payload);
        return EventCodec.Encode(e.Timestamp != 0 ? e.Timestamp : DateTime.UtcNow.Ticks, serializer.Identifier,
            Akka.Serialization.Serialization.ManifestFor(serializer, e.Payload), e.Manifest ?? "", e.WriterGuid ?? "",
            serializer.ToBinary(e.Payload));
    }

    private IPersistentRepresentation Deserialize(StoredEvent stored, string persistenceId)
    {
        // reads hand out events in arrays of their own (JournalState.ReadEvents reads each from its body files)
        var bytes = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(stored.Bytes, out var segment)
                    && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : stored.Bytes.ToArray();
        return EventCodec.IsCompact(bytes)
            ? EventCodec.Decode(bytes, persistenceId, stored.SequenceNr, _serialization)
            : (IPersistentRepresentation)_serializer.FromBinary(bytes, typeof(Persistent));
    }

    protected override async Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        var replica = await _replication.Replica.ConfigureAwait(false);
        var outcome = (await replica.SubmitAsync([new DeleteEventsTo(OperationIds.Next(), _fencing.Current, persistenceId, toSequenceNr)], cancellationToken)
            .ConfigureAwait(false))[0];
        if (!outcome.IsApplied) throw new RaftJournalWriteRefusedException(outcome.Detail);
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (_writesInFlight.TryGetValue(persistenceId, out var inFlight))
            await inFlight.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // its outcome is reported to its writer
        var replica = await _replication.Replica.ConfigureAwait(false);
        await replica.ReadBarrierAsync(cancellationToken).ConfigureAwait(false);
        return replica.StateMachine.HighestSequenceNr(persistenceId);
    }

    /// <remarks>Akka calls <see cref="ReadHighestSequenceNrAsync"/> (which passes the read barrier) right before this.</remarks>
    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr,
        long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        var replica = await _replication.Replica.ConfigureAwait(false);
        foreach (var stored in replica.StateMachine.ReadEvents(persistenceId, fromSequenceNr, toSequenceNr, max))
            recoveryCallback(Deserialize(stored, persistenceId));
    }
}
