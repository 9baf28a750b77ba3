using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The replicated journal state every node applies committed log entries to: per persistence id the events,
/// highest sequence number, deleted-to mark and snapshots, plus the newest fencing epoch and a window of recent
/// operation ids (for idempotent retries). Applying is deterministic, so every replica computes the same outcomes.
/// DotNext calls <see cref="ApplyAsync"/> one entry at a time; reads from journal actors run concurrently and take
/// <see cref="_gate"/>, as does every mutation.
/// </summary>
internal sealed class JournalStateMachine : SimpleStateMachine
{
    private const byte SnapshotFormatVersion = 1;

    private readonly object _gate = new();
    private readonly int _snapshotInterval;
    private readonly int _dedupWindow;
    private readonly Dictionary<string, PersistenceIdState> _ids = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, OperationOutcome> _recentOutcomes = new();
    private readonly Queue<Guid> _recentOrder = new();
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<OperationOutcome>> _waiters = new();
    private long _maxEpoch;
    private long _appliedSinceSnapshot;
    private long _lastAppliedIndex;

    public JournalStateMachine(DirectoryInfo location, int snapshotInterval, int dedupWindow) : base(location)
    {
        _snapshotInterval = snapshotInterval;
        _dedupWindow = dedupWindow;
    }

    private int _restoredSnapshots;

    /// <summary>
    /// How many times the state was replaced from a snapshot file: at startup (own newest snapshot) or installed from
    /// the leader when this node was behind the leader's compacted log.
    /// </summary>
    public int RestoredSnapshots => Volatile.Read(ref _restoredSnapshots);

    /// <summary>Index of the last log entry applied here (for tests and diagnostics).</summary>
    public long LastAppliedIndex => Volatile.Read(ref _lastAppliedIndex);

    /// <summary>
    /// Returns a task completed with the outcome once the operation with this id is applied locally. Register before
    /// the operation is replicated; <see cref="ForgetOutcome"/> when giving up.
    /// </summary>
    public Task<OperationOutcome> AwaitOutcome(Guid operationId)
        => _waiters.GetOrAdd(operationId, static _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void ForgetOutcome(Guid operationId) => _waiters.TryRemove(operationId, out _);

    // ---------------------------------------------------------------- reads (callers passed a read barrier first)

    public long HighestSequenceNr(string persistenceId)
    {
        lock (_gate) return _ids.TryGetValue(persistenceId, out var state) ? state.Highest : 0L;
    }

    public List<StoredEvent> ReadEvents(string persistenceId, long from, long to, long max)
    {
        var result = new List<StoredEvent>();
        if (max <= 0) return result;
        lock (_gate)
        {
            if (!_ids.TryGetValue(persistenceId, out var state)) return result;
            foreach (var e in state.Events)
            {
                if (e.SequenceNr < from) continue;
                if (e.SequenceNr > to || result.Count >= max) break;
                result.Add(e);
            }
        }
        return result;
    }

    public StoredSnapshot? LatestSnapshot(string persistenceId, long maxSequenceNr, long maxTimestampTicks,
        long minSequenceNr, long minTimestampTicks)
    {
        lock (_gate)
        {
            if (!_ids.TryGetValue(persistenceId, out var state)) return null;
            return state.Snapshots
                .Where(s => s.SequenceNr <= maxSequenceNr && s.SequenceNr >= minSequenceNr
                            && s.TimestampTicks <= maxTimestampTicks && s.TimestampTicks >= minTimestampTicks)
                .OrderByDescending(s => s.SequenceNr).ThenByDescending(s => s.TimestampTicks)
                .FirstOrDefault();
        }
    }

    /// <summary>A stable textual digest of the whole state, for comparing replicas in tests.</summary>
    public string Digest()
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            foreach (var (pid, state) in _ids.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                text.Append(pid).Append(" highest=").Append(state.Highest).Append(" deletedTo=").Append(state.DeletedTo)
                    .Append(" events=").Append(string.Join(',', state.Events.Select(e => e.SequenceNr + ":" + Convert.ToHexString(e.Bytes).GetHashCode())))
                    .Append(" snapshots=").Append(string.Join(',', state.Snapshots.Select(s => s.SequenceNr)))
                    .Append('\n');
            }
            return text.ToString();
        }
    }

    // ---------------------------------------------------------------- apply

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (!entry.IsConfiguration && entry.TryGetPayload(out var payload) && !payload.IsEmpty)
        {
            var operations = OperationCodec.Decode(payload.ToArray());
            var outcomes = new OperationOutcome[operations.Count];
            lock (_gate)
            {
                for (var i = 0; i < operations.Count; i++) outcomes[i] = Apply(operations[i], entry.Index);
            }
            // Complete waiters outside the lock; continuations run asynchronously.
            for (var i = 0; i < operations.Count; i++)
                if (_waiters.TryRemove(operations[i].Id, out var waiter)) waiter.TrySetResult(outcomes[i]);
        }

        Volatile.Write(ref _lastAppliedIndex, entry.Index);
        var snapshotDue = ++_appliedSinceSnapshot >= _snapshotInterval;
        if (snapshotDue) _appliedSinceSnapshot = 0;
        return ValueTask.FromResult(snapshotDue);
    }

    private OperationOutcome Apply(JournalOperation operation, long logIndex)
    {
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
                state.Events.AddRange(write.Events);
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
                    state.Events.RemoveAll(e => e.SequenceNr <= to);
                }
                break;
            }
            case StoreSnapshot save:
            {
                var state = StateOf(save.Snapshot.PersistenceId);
                state.Snapshots.RemoveAll(s => s.SequenceNr == save.Snapshot.SequenceNr);
                state.Snapshots.Add(save.Snapshot);
                break;
            }
            case RemoveSnapshots delete:
            {
                if (_ids.TryGetValue(delete.PersistenceId, out var state))
                    state.Snapshots.RemoveAll(s => s.SequenceNr >= delete.MinSequenceNr && s.SequenceNr <= delete.MaxSequenceNr
                                                   && s.TimestampTicks >= delete.MinTimestampTicks && s.TimestampTicks <= delete.MaxTimestampTicks);
                break;
            }
        }
        return new OperationOutcome(OutcomeCode.Applied, logIndex, "");
    }

    private void Remember(Guid id, OperationOutcome outcome)
    {
        _recentOutcomes[id] = outcome;
        _recentOrder.Enqueue(id);
        while (_recentOrder.Count > _dedupWindow) _recentOutcomes.Remove(_recentOrder.Dequeue());
    }

    private PersistenceIdState StateOf(string persistenceId)
    {
        if (!_ids.TryGetValue(persistenceId, out var state)) _ids[persistenceId] = state = new PersistenceIdState();
        return state;
    }

    // ---------------------------------------------------------------- snapshots of the state (log compaction)

    protected override async ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
    {
        byte[] image;
        lock (_gate) image = SerializeState();
        await writer.WriteAsync(image, lengthFormat: null, token).ConfigureAwait(false);
    }

    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var image = await File.ReadAllBytesAsync(snapshotFile.FullName, token).ConfigureAwait(false);
        lock (_gate) DeserializeState(image);
        Interlocked.Increment(ref _restoredSnapshots);
    }

    private byte[] SerializeState()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(SnapshotFormatVersion);
            writer.Write(_maxEpoch);
            writer.Write(_recentOrder.Count);
            foreach (var id in _recentOrder)
            {
                var outcome = _recentOutcomes[id];
                writer.Write(id.ToByteArray());
                writer.Write((byte)outcome.Code);
                writer.Write(outcome.LogIndex);
                writer.Write(outcome.Detail);
            }
            writer.Write(_ids.Count);
            foreach (var (pid, state) in _ids)
            {
                writer.Write(pid);
                writer.Write(state.Highest);
                writer.Write(state.DeletedTo);
                writer.Write(state.Events.Count);
                foreach (var e in state.Events)
                {
                    writer.Write(e.SequenceNr);
                    OperationCodec.WriteBytes(writer, e.Bytes);
                }
                writer.Write(state.Snapshots.Count);
                foreach (var s in state.Snapshots) OperationCodec.WriteSnapshot(writer, s);
            }
        }
        return stream.ToArray();
    }

    private void DeserializeState(byte[] image)
    {
        using var reader = new BinaryReader(new MemoryStream(image, writable: false), Encoding.UTF8);
        var version = reader.ReadByte();
        if (version != SnapshotFormatVersion)
            throw new InvalidDataException($"raft journal: unsupported state snapshot version [{version}], expected [{SnapshotFormatVersion}]");
        _ids.Clear();
        _recentOutcomes.Clear();
        _recentOrder.Clear();
        _maxEpoch = reader.ReadInt64();
        var recent = reader.ReadInt32();
        for (var i = 0; i < recent; i++)
        {
            var id = new Guid(reader.ReadBytes(16));
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
            for (var j = 0; j < events; j++) state.Events.Add(new StoredEvent(reader.ReadInt64(), OperationCodec.ReadBytes(reader)));
            var snapshots = reader.ReadInt32();
            for (var j = 0; j < snapshots; j++) state.Snapshots.Add(OperationCodec.ReadSnapshot(reader));
        }
    }

    private sealed class PersistenceIdState
    {
        public long Highest;
        public long DeletedTo;
        public readonly List<StoredEvent> Events = [];
        public readonly List<StoredSnapshot> Snapshots = [];
    }
}
