using System.Text;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The replicated journal state, pure and deterministic: per persistence id the events, highest sequence number,
/// deleted-to mark and snapshots, plus the newest fencing epoch and a window of recent operation ids with their
/// outcomes (a retried operation is answered from there instead of applied twice). Event bodies live in
/// <see cref="EventSegments"/> files under <paramref name="bodies"/>, the rest in memory. Not thread-safe: the owner
/// (<see cref="JournalStateMachine"/>) serializes access.
/// </summary>
internal sealed class JournalState(int dedupWindow, DirectoryInfo bodies) : IDisposable
{
    private const byte SnapshotFormatVersion = 1;

    private readonly Dictionary<string, PersistenceIdState> _ids = new(StringComparer.Ordinal);
    private readonly EventSegments _bodies = new(bodies);
    private readonly Dictionary<Guid, OperationOutcome> _recentOutcomes = new();
    private readonly Queue<Guid> _recentOrder = new();
    private long _maxEpoch;
    private long _bytes;

    public long MaxEpoch => _maxEpoch;

    /// <summary>
    /// Event and snapshot payload bytes held (what a state snapshot mostly consists of); the state machine compares
    /// it with the log written since its last snapshot to decide when the next one pays off.
    /// </summary>
    public long PayloadBytes => _bytes;

    public long HighestSequenceNr(string persistenceId) => _ids.TryGetValue(persistenceId, out var state) ? state.Highest : 0L;

    public List<StoredEvent> ReadEvents(string persistenceId, long from, long to, long max)
    {
        var result = new List<StoredEvent>();
        if (max <= 0 || !_ids.TryGetValue(persistenceId, out var state)) return result;
        var events = state.Events;
        // first event at or above `from`: sequence numbers ascend, so a replay from a snapshot does not walk the prefix
        int lo = 0, hi = events.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (events[mid].SequenceNr < from) lo = mid + 1;
            else hi = mid;
        }
        for (var i = lo; i < events.Count && events[i].SequenceNr <= to && result.Count < max; i++)
            result.Add(new StoredEvent(events[i].SequenceNr, _bodies.Read(events[i].Body)));
        return result;
    }

    public StoredSnapshot? LatestSnapshot(string persistenceId, long maxSequenceNr, long maxTimestampTicks,
        long minSequenceNr, long minTimestampTicks)
        => !_ids.TryGetValue(persistenceId, out var state)
            ? null
            : state.Snapshots
                .Where(s => s.SequenceNr <= maxSequenceNr && s.SequenceNr >= minSequenceNr
                            && s.TimestampTicks <= maxTimestampTicks && s.TimestampTicks >= minTimestampTicks)
                .OrderByDescending(s => s.SequenceNr).ThenByDescending(s => s.TimestampTicks)
                .FirstOrDefault();

    /// <summary>A stable textual digest of the whole state, for comparing replicas in tests.</summary>
    public string Digest()
    {
        var text = new StringBuilder();
        foreach (var (pid, state) in _ids.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(pid).Append(" highest=").Append(state.Highest).Append(" deletedTo=").Append(state.DeletedTo)
                .Append(" events=").Append(string.Join(',', state.Events.Select(e => e.SequenceNr + ":" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(_bodies.Read(e.Body)))[..8])))
                .Append(" snapshots=").Append(string.Join(',', state.Snapshots.Select(s => s.SequenceNr)))
                .Append('\n');
        }
        return text.Append("epoch=").Append(_maxEpoch).ToString();
    }

    /// <summary>Applies one operation of the log entry at <paramref name="logIndex"/>; the outcome is the same on every replica.</summary>
    public OperationOutcome Apply(JournalOperation operation, long logIndex)
    {
        if (operation is ReadMark) return new OperationOutcome(OutcomeCode.Applied, logIndex, ""); // a read point: no effect

        if (_recentOutcomes.TryGetValue(operation.Id, out var earlier))
            return earlier with { LogIndex = logIndex }; // a retry of an operation already applied: same answer, no effect

        var outcome = operation.Epoch < _maxEpoch
            ? new OperationOutcome(OutcomeCode.Fenced, logIndex, $"fencing epoch {operation.Epoch} is older than the newest applied epoch {_maxEpoch}")
            : ApplyUnfenced(operation, logIndex);
        if (outcome.IsApplied && operation.Epoch > _maxEpoch) _maxEpoch = operation.Epoch;

        Remember(operation.Id, outcome);
        return outcome;
    }

    private OperationOutcome ApplyUnfenced(JournalOperation operation, long logIndex)
    {
        switch (operation)
        {
            case WriteEvents write:
            {
                var state = StateOf(write.PersistenceId);
                var first = write.Events.Count == 0 ? state.Highest + 1 : write.Events[0].SequenceNr;
                if (first <= state.Highest)
                    return new OperationOutcome(OutcomeCode.SequenceConflict, logIndex,
                        $"persistence id [{write.PersistenceId}] write from sequence number {first} but {state.Highest} is already written (stale writer?)");
                foreach (var e in write.Events)
                {
                    state.Events.Add(new EventEntry(e.SequenceNr, _bodies.Append(e.Bytes.Span)));
                    _bytes += e.Bytes.Length;
                }
                if (write.Events.Count > 0) state.Highest = write.Events[^1].SequenceNr;
                break;
            }
            case DeleteEventsTo delete:
            {
                var state = StateOf(delete.PersistenceId);
                var to = Math.Min(delete.ToSequenceNr, state.Highest);
                if (to > state.DeletedTo)
                {
                    state.DeletedTo = to;
                    var deleted = 0;
                    foreach (var e in state.Events)
                    {
                        if (e.SequenceNr > to) break; // ascending
                        _bytes -= e.Body.Length;
                        _bodies.Release(e.Body);
                        deleted++;
                    }
                    state.Events.RemoveRange(0, deleted);
                }
                break;
            }
            case StoreSnapshot save:
            {
                var state = StateOf(save.Snapshot.PersistenceId);
                foreach (var s in state.Snapshots) if (s.SequenceNr == save.Snapshot.SequenceNr) _bytes -= s.Bytes.Length;
                state.Snapshots.RemoveAll(s => s.SequenceNr == save.Snapshot.SequenceNr);
                state.Snapshots.Add(save.Snapshot);
                _bytes += save.Snapshot.Bytes.Length;
                break;
            }
            case RemoveSnapshots delete:
            {
                if (_ids.TryGetValue(delete.PersistenceId, out var state))
                    state.Snapshots.RemoveAll(s =>
                    {
                        var match = s.SequenceNr >= delete.MinSequenceNr && s.SequenceNr <= delete.MaxSequenceNr
                                    && s.TimestampTicks >= delete.MinTimestampTicks && s.TimestampTicks <= delete.MaxTimestampTicks;
                        if (match) _bytes -= s.Bytes.Length;
                        return match;
                    });
                break;
            }
        }
        return new OperationOutcome(OutcomeCode.Applied, logIndex, "");
    }

    private void Remember(Guid id, OperationOutcome outcome)
    {
        _recentOutcomes[id] = outcome;
        _recentOrder.Enqueue(id);
        while (_recentOrder.Count > dedupWindow) _recentOutcomes.Remove(_recentOrder.Dequeue());
    }

    private PersistenceIdState StateOf(string persistenceId)
    {
        if (!_ids.TryGetValue(persistenceId, out var state)) _ids[persistenceId] = state = new PersistenceIdState();
        return state;
    }

    /// <summary>Writes the whole state, event bodies included, to <paramref name="destination"/> (left open).</summary>
    public void Serialize(Stream destination)
    {
        using var image = Capture();
        image.WriteTo(destination, CancellationToken.None);
    }

    /// <summary>
    /// The state as it is now, to be written later from any thread (<see cref="StateImage.WriteTo"/>) while this state
    /// goes on changing: copies the index (a few dozen bytes per event) and pins the event-body files, but copies no
    /// body. Dispose the image under the owner's lock.
    /// </summary>
    public StateImage Capture()
    {
        var recent = _recentOrder.Select(id => (id, _recentOutcomes[id])).ToArray();
        var ids = _ids.Select(p => new StateImage.Id(p.Key, p.Value.Highest, p.Value.DeletedTo, p.Value.Events.ToArray(), p.Value.Snapshots.ToArray()))
            .ToArray();
        return new StateImage(_maxEpoch, recent, ids, _bodies.Pin());
    }

    /// <summary>A captured state (<see cref="Capture"/>): the index copied, the bodies read from the pinned files.</summary>
    public sealed class StateImage(long maxEpoch, (Guid Id, OperationOutcome Outcome)[] recent, StateImage.Id[] ids, EventSegments.PinnedBodies bodies)
        : IDisposable
    {
        internal sealed record Id(string PersistenceId, long Highest, long DeletedTo, EventEntry[] Events, StoredSnapshot[] Snapshots);

        /// <summary>
        /// Writes the image (the <see cref="Restore"/> format) to <paramref name="destination"/> (left open), calling
        /// <paramref name="onProgress"/> after every 4096 events.
        /// </summary>
        public void WriteTo(Stream destination, CancellationToken token, Action? onProgress = null)
        {
            using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
            writer.Write(SnapshotFormatVersion);
            writer.Write(maxEpoch);
            writer.Write(recent.Length);
            foreach (var (id, outcome) in recent)
            {
                writer.Write(id.ToByteArray());
                writer.Write((byte)outcome.Code);
                writer.Write(outcome.LogIndex);
                writer.Write(outcome.Detail);
            }
            writer.Write(ids.Length);
            var body = new byte[4096];
            var written = 0L;
            foreach (var state in ids)
            {
                token.ThrowIfCancellationRequested();
                writer.Write(state.PersistenceId);
                writer.Write(state.Highest);
                writer.Write(state.DeletedTo);
                writer.Write(state.Events.Length);
                foreach (var e in state.Events)
                {
                    if ((++written & 4095) == 0)
                    {
                        token.ThrowIfCancellationRequested();
                        writer.Flush();
                        onProgress?.Invoke();
                    }
                    writer.Write(e.SequenceNr);
                    if (body.Length < e.Body.Length) body = new byte[Math.Max(e.Body.Length, body.Length * 2)];
                    bodies.Read(e.Body, body.AsSpan(0, e.Body.Length));
                    writer.Write(e.Body.Length); // the layout of OperationCodec.WriteBytes
                    writer.Write(body, 0, e.Body.Length);
                }
                writer.Write(state.Snapshots.Length);
                foreach (var snapshot in state.Snapshots) OperationCodec.WriteSnapshot(writer, snapshot);
            }
        }

        public void Dispose() => bodies.Dispose();
    }

    /// <summary>Replaces the whole state by a <see cref="Serialize"/> image read from <paramref name="source"/> (left open).</summary>
    public void Restore(Stream source)
    {
        using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
        var version = reader.ReadByte();
        if (version != SnapshotFormatVersion)
            throw new InvalidDataException($"raft journal: unsupported state snapshot version [{version}], expected [{SnapshotFormatVersion}]");
        _ids.Clear();
        _bodies.Clear();
        _recentOutcomes.Clear();
        _recentOrder.Clear();
        _bytes = 0;
        _maxEpoch = reader.ReadInt64();
        var recent = reader.ReadInt32();
        for (var i = 0; i < recent; i++)
        {
            var id = OperationCodec.ReadGuid(reader);
            var outcome = new OperationOutcome((OutcomeCode)reader.ReadByte(), reader.ReadInt64(), reader.ReadString());
            _recentOutcomes[id] = outcome;
            _recentOrder.Enqueue(id);
        }
        var ids = reader.ReadInt32();
        for (var i = 0; i < ids; i++)
        {
            var state = new PersistenceIdState();
            _ids[reader.ReadString()] = state;
            state.Highest = reader.ReadInt64();
            state.DeletedTo = reader.ReadInt64();
            var events = reader.ReadInt32();
            for (var j = 0; j < events; j++)
            {
                var sequenceNr = reader.ReadInt64();
                var body = OperationCodec.ReadBytes(reader);
                state.Events.Add(new EventEntry(sequenceNr, _bodies.Append(body)));
                _bytes += body.Length;
            }
            var snapshots = reader.ReadInt32();
            for (var j = 0; j < snapshots; j++) state.Snapshots.Add(OperationCodec.ReadSnapshot(reader));
            foreach (var snapshot in state.Snapshots) _bytes += snapshot.Bytes.Length;
        }
    }

    public void Dispose() => _bodies.Dispose();

    /// <summary>One stored event: its sequence number and where its bytes are.</summary>
    internal readonly record struct EventEntry(long SequenceNr, BodyLocation Body);

    private sealed class PersistenceIdState
    {
        public long Highest;
        public long DeletedTo;
        public readonly List<EventEntry> Events = []; // ascending sequence numbers
        public readonly List<StoredSnapshot> Snapshots = [];
    }
}
