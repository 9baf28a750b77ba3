using System.Buffers;
using System.Collections.Concurrent;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The DotNext state machine of a replica: applies committed log entries to its <see cref="JournalState"/>, completes
/// the waiters of the operations they carry, and persists / restores the state as Raft snapshots (log compaction).
/// DotNext calls <see cref="ApplyAsync"/> one entry at a time; reads from journal actors run concurrently and take
/// <see cref="_gate"/>, as does every mutation.
/// </summary>
internal sealed class JournalStateMachine : SimpleStateMachine
{
    private const int CopyBlock = 1 << 20;
    private readonly object _gate = new();
    private readonly DirectoryInfo _bodies;
    private readonly int _snapshotInterval;
    private readonly JournalState _state;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<OperationOutcome>> _waiters = new();
    private long _appliedSinceSnapshot;
    private long _logBytesSinceSnapshot;
    private long _lastAppliedIndex;
    private int _restoredSnapshots;

    /// <param name="location">Directory of the state snapshots (DotNext's).</param>
    /// <param name="bodies">Directory of the event-body cache files (<see cref="EventSegments"/>), emptied here.</param>
    public JournalStateMachine(DirectoryInfo location, DirectoryInfo bodies, int snapshotInterval, int dedupWindow) : base(location)
    {
        _snapshotInterval = snapshotInterval;
        _bodies = bodies;
        _state = new JournalState(dedupWindow, bodies);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        lock (_gate) _state.Dispose();
    }

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
        lock (_gate) return _state.HighestSequenceNr(persistenceId);
    }

    public List<StoredEvent> ReadEvents(string persistenceId, long from, long to, long max)
    {
        lock (_gate) return _state.ReadEvents(persistenceId, from, to, max);
    }

    public StoredSnapshot? LatestSnapshot(string persistenceId, long maxSequenceNr, long maxTimestampTicks,
        long minSequenceNr, long minTimestampTicks)
    {
        lock (_gate) return _state.LatestSnapshot(persistenceId, maxSequenceNr, maxTimestampTicks, minSequenceNr, minTimestampTicks);
    }

    /// <summary>A stable textual digest of the whole state, for comparing replicas in tests.</summary>
    public string Digest()
    {
        lock (_gate) return _state.Digest();
    }

    // ---------------------------------------------------------------- apply

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        var t0 = RaftProfile.Now;
        if (!entry.IsConfiguration && entry.TryGetPayload(out var payload) && !payload.IsEmpty)
        {
            RaftProfile.Count(ref RaftProfile.AppliedEntries);
            _logBytesSinceSnapshot += payload.Length;
            // Event bodies are decoded as slices of the entry's bytes and copied once, into the state's body cache:
            // straight from the WAL's buffer when the entry is one segment, else through a rented buffer (not a fresh
            // large-object array per entry and replica). Either buffer is valid only within this call.
            if (payload.IsSingleSegment)
            {
                ApplyOperations(OperationCodec.Decode(payload.First), entry.Index);
            }
            else
            {
                var length = checked((int)payload.Length);
                var buffer = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    payload.CopyTo(buffer);
                    ApplyOperations(OperationCodec.Decode(buffer.AsMemory(0, length)), entry.Index);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }

        RaftProfile.Add(ref RaftProfile.ApplyTicks, t0);
        Volatile.Write(ref _lastAppliedIndex, entry.Index);
        // A snapshot serializes the whole in-memory state (every event body), so taking one every snapshot-interval
        // entries would cost O(state) per interval: with big states and small entries, most of the CPU. It is taken
        // once snapshot-interval entries were applied AND the log written since the last one reached half the
        // state's payload size: snapshot cost per written byte stays bounded, and so does the log a restart replays
        // (about half of what the snapshot holds).
        var snapshotDue = ++_appliedSinceSnapshot >= _snapshotInterval && _logBytesSinceSnapshot >= StatePayloadBytes() / 2;
        if (snapshotDue) _appliedSinceSnapshot = _logBytesSinceSnapshot = 0;
        return ValueTask.FromResult(snapshotDue);
    }

    private void ApplyOperations(List<JournalOperation> operations, long index)
    {
        var outcomes = new OperationOutcome[operations.Count];
        RaftProfile.Count(ref RaftProfile.AppliedOps, operations.Count);
        lock (_gate)
        {
            for (var i = 0; i < operations.Count; i++) outcomes[i] = _state.Apply(operations[i], index);
        }
        // Complete waiters outside the lock; continuations run asynchronously.
        for (var i = 0; i < operations.Count; i++)
            if (_waiters.TryRemove(operations[i].Id, out var waiter)) waiter.TrySetResult(outcomes[i]);
    }

    // ---------------------------------------------------------------- snapshots of the state (log compaction)

    private long StatePayloadBytes()
    {
        lock (_gate) return _state.PayloadBytes;
    }

    protected override async ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
    {
        var t0 = RaftProfile.Now;
        // The image goes to a scratch file under the lock and is then copied to DotNext's writer outside it: with the
        // event bodies on disk the state can exceed what one array holds (2 GiB), and it must not sit in the heap.
        await using var image = new FileStream(Path.Combine(_bodies.FullName, "snapshot.image"), FileMode.Create, FileAccess.ReadWrite,
            FileShare.None, CopyBlock, FileOptions.DeleteOnClose);
        lock (_gate) _state.Serialize(image);
        var length = image.Length;
        image.Position = 0;
        await writer.CopyFromAsync(image, count: null, token).ConfigureAwait(false);
        RaftProfile.Count(ref RaftProfile.Snapshots);
        RaftProfile.Count(ref RaftProfile.SnapshotBytes, length);
        RaftProfile.Add(ref RaftProfile.SnapshotTicks, t0);
    }

    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        await using var image = new FileStream(snapshotFile.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBlock);
        lock (_gate) _state.Restore(image); // streamed: bodies go to the state's body cache as they are read
        _appliedSinceSnapshot = _logBytesSinceSnapshot = 0;
        Interlocked.Increment(ref _restoredSnapshots);
    }
}
