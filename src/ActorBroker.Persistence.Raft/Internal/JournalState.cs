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
    private readonly Dictionary<string, PersistenceIdState> _ids = new(StringComparer.Ordinal);
    private readonly EventSegments _bodies = new(bodies);
    private readonly Dictionary<Guid, OperationOutcome> _recentOutcomes = new();
    private readonly Queue<Guid> _recentOrder = new();
    private long _maxEpoch;
    private long _bytes; // see SnapshotBytes

    /// <summary>What an event costs an indexed snapshot: sequence number and body location (8 + 4 + 8 + 4 bytes).</summary>
    private const int EventIndexBytes = 24;

    public long MaxEpoch => _maxEpoch;

    /// <summary>
    /// About what an indexed snapshot of this state writes (event index entries, Akka snapshot payloads, which are held
    /// inline); the state machine compares it with the log written since its last snapshot to decide when the next one
    /// pays off.
    /// </summary>
    public long SnapshotBytes => _bytes + _recentOrder.Count * 32L;

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
                    _bytes += EventIndexBytes;
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
                        _bytes -= EventIndexBytes;
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

    /// <summary>
    /// The state as it is now, for a snapshot written later from another thread while this state goes on changing:
    /// copies the index (a few dozen bytes per event) and references the body files it points into, which stay until
    /// <see cref="ReleaseSegments"/>. No body is copied.
    /// </summary>
    public StateImage Capture() => Image(_bodies.Reference());

    /// <summary>fsyncs the body files <paramref name="image"/> refers to (any thread): a snapshot must not point at bytes not on disk.</summary>
    public void FlushBodiesToDisk(StateImage image) => _bodies.FlushToDisk(image.Segments);

    /// <summary>A snapshot that referred to these body files is gone; the files go once no live event is in them either.</summary>
    public void ReleaseSegments(IEnumerable<int> segmentIds) => _bodies.Unreference(segmentIds);

    /// <summary>Writes the whole state, event bodies included (the full form), to <paramref name="destination"/> (left open).</summary>
    public void Serialize(Stream destination)
        => Image([]).WriteFull(destination, (location, span) => _bodies.Read(location).CopyTo(span), CancellationToken.None);

    /// <summary>
    /// Replaces the whole state by an image read from <paramref name="source"/> (left open), either form: a full one's
    /// bodies are written to new body files (every existing one is deleted first); an indexed one takes over the body
    /// files it lists and deletes the others. Returns the files the restored image refers to (now referenced once).
    /// </summary>
    public SegmentExtent[] Restore(Stream source)
    {
        _ids.Clear();
        _recentOutcomes.Clear();
        _recentOrder.Clear();
        _bytes = 0;
        var version = StateImage.ReadVersion(source);
        if (version == StateImage.Full) _bodies.DeleteAll();
        var image = StateImage.Read(source, version, body => _bodies.Append(body));
        if (version == StateImage.Indexed) _bodies.Adopt(image.Segments);
        _maxEpoch = image.MaxEpoch;
        foreach (var (id, outcome) in image.Recent)
        {
            _recentOutcomes[id] = outcome;
            _recentOrder.Enqueue(id);
        }
        foreach (var restored in image.Ids)
        {
            var state = new PersistenceIdState { Highest = restored.Highest, DeletedTo = restored.DeletedTo };
            _ids[restored.PersistenceId] = state;
            state.Events.AddRange(restored.Events);
            state.Snapshots.AddRange(restored.Snapshots);
            foreach (var e in restored.Events)
            {
                if (version == StateImage.Indexed) _bodies.CountLive(e.Body); // a full image's appends counted themselves
                _bytes += EventIndexBytes;
            }
            foreach (var snapshot in restored.Snapshots) _bytes += snapshot.Bytes.Length;
        }
        return image.Segments;
    }

    /// <summary>Deletes every body file (a start with no snapshot: the whole state comes from the log).</summary>
    public void ResetBodies() => _bodies.DeleteAll();

    private StateImage Image(SegmentExtent[] segments)
        => new(_maxEpoch, _recentOrder.Select(id => (id, _recentOutcomes[id])).ToArray(), segments,
            _ids.Select(p => new StateImage.Id(p.Key, p.Value.Highest, p.Value.DeletedTo, p.Value.Events.ToArray(), p.Value.Snapshots.ToArray())).ToArray());

    public void Dispose() => _bodies.Dispose();

    private sealed class PersistenceIdState
    {
        public long Highest;
        public long DeletedTo;
        public readonly List<EventEntry> Events = []; // ascending sequence numbers
        public readonly List<StoredSnapshot> Snapshots = [];
    }
}
