using System.Buffers;
using System.Collections.Concurrent;
using ActorBroker.Coordination;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The DotNext state machine of a replica: applies committed log entries to its <see cref="JournalState"/>, completes
/// the waiters of the operations they carry, and keeps the state's snapshots (log compaction) as files in
/// <c>data-dir/state</c> named <c>index-term</c>. DotNext calls <see cref="ApplyAsync"/> one entry at a time; reads
/// from journal actors run concurrently and take <see cref="_gate"/>, as does every mutation.
/// <para>
/// Snapshots are written in the background while entries go on being applied: DotNext's SimpleStateMachine makes the
/// next apply wait for the snapshot, and with a deep journal (a backlog of a GB) every compaction then stopped all
/// commits for seconds, long enough for Akka's journal circuit breaker to fail writes. Here the apply that decides on
/// a snapshot only captures the index (<see cref="JournalState.Capture"/>); the file is written from that capture on
/// another thread and becomes the snapshot DotNext compacts to (<see cref="ISnapshotManager.Snapshot"/>) once it is
/// complete and on disk.
/// </para>
/// <para>
/// A snapshot of this replica's own is <i>indexed</i> (<see cref="StateImage"/>): the index plus references to the
/// event-body files, which it fsyncs first and which stay until the snapshot is reclaimed. Writing every body into each
/// snapshot again made compaction O(journal): with three replicas on two cores, each copying a GB, commits slowed for
/// seconds at every compaction. A member behind the compacted log has none of those files, so what DotNext sends it
/// is the <i>full</i> form, generated from the index and the files as it is sent; the receiver keeps that as its
/// snapshot until it takes one of its own.
/// </para>
/// </summary>
internal sealed class JournalStateMachine : IStateMachine, IAsyncDisposable
{
    internal const int CopyBlock = 1 << 20; // buffer of snapshot file reads and writes
    private const string PartialSuffix = ".partial";
    private readonly object _gate = new();
    private readonly DirectoryInfo _location;
    private readonly DirectoryInfo _bodies;
    private readonly int _snapshotInterval;
    private readonly JournalState _state;
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<OperationOutcome>> _waiters = new();
    private readonly CancellationTokenSource _lifetime = new();
    private long _appliedSinceSnapshot;
    private long _logBytesSinceSnapshot;
    private long _lastAppliedIndex;
    private int _restoredSnapshots;
    private volatile StateSnapshot? _snapshot;       // newest complete snapshot: what the WAL may compact to
    private Task _snapshotting = Task.CompletedTask; // writer of the next one (touched by the applier only)
    private readonly Dictionary<long, int[]> _snapshotSegments = new(); // body files each indexed snapshot holds (by index; under _gate)

    /// <param name="location">Directory of the state snapshots; an unfinished one an earlier run left is deleted.</param>
    /// <param name="bodies">Directory of the event-body files (<see cref="EventSegments"/>); <see cref="RestoreAsync"/> keeps
    /// those its snapshot refers to and deletes the rest.</param>
    public JournalStateMachine(DirectoryInfo location, DirectoryInfo bodies, int snapshotInterval, int dedupWindow)
    {
        _location = location;
        _bodies = bodies;
        _snapshotInterval = snapshotInterval;
        location.Create();
        foreach (var partial in location.EnumerateFiles("*" + PartialSuffix)) partial.Delete();
        _state = new JournalState(dedupWindow, bodies);
    }

    /// <summary>Test hook: awaited by the background snapshot writer before it writes (holds a snapshot "in progress").</summary>
    internal Func<Task>? BeforeSnapshotWrite { get; set; }

    /// <summary>The background writer of the latest snapshot (completed when none is being written); for tests.</summary>
    internal Task SnapshotWriting => Volatile.Read(ref _snapshotting);

    public async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await _snapshotting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_gate) _state.Dispose();
        _lifetime.Dispose();
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

    /// <summary>Applies a committed entry, or installs a snapshot the leader sent (this node was behind its log).</summary>
    public ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.Index <= LastAppliedIndex) return ValueTask.FromResult(LastAppliedIndex); // covered by the restored snapshot
        return entry.IsSnapshot ? InstallSnapshotAsync(entry, token) : ValueTask.FromResult(Apply(entry));
    }

    private long Apply(LogEntry entry)
    {
        // a snapshot that could not be written (disk full, I/O error) stops this replica, as it would in DotNext's own
        // state machines: its log could otherwise never be compacted
        if (_snapshotting.IsFaulted) _snapshotting.GetAwaiter().GetResult();
        var t0 = RaftProfile.Now;
        if (!entry.IsConfiguration && entry.TryGetPayload(out var payload) && !payload.IsEmpty)
        {
            RaftProfile.Count(ref RaftProfile.AppliedEntries);
            _logBytesSinceSnapshot += payload.Length;
            // Event bodies are decoded as slices of the entry's bytes and copied once, into the state's body files:
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
        // A snapshot writes the whole index (24 bytes per event), so taking one every snapshot-interval entries would
        // cost O(state) per interval: with a deep journal and small entries, most of the CPU. It is taken once
        // snapshot-interval entries were applied AND the log written since the last one reached half the snapshot's
        // size: snapshot cost per written byte stays bounded. While one is being written the next waits.
        if (++_appliedSinceSnapshot >= _snapshotInterval && _logBytesSinceSnapshot >= StateSnapshotBytes() / 2 && _snapshotting.IsCompleted)
        {
            _appliedSinceSnapshot = _logBytesSinceSnapshot = 0;
            StateImage image;
            var captureStarted = RaftProfile.Now;
            lock (_gate) image = _state.Capture();
            RaftProfile.Add(ref RaftProfile.CaptureTicks, captureStarted);
            var (index, term) = (entry.Index, entry.Term);
            _snapshotting = Task.Run(() => WriteSnapshotAsync(image, index, term, _lifetime.Token));
        }
        return entry.Index;
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

    ISnapshot? ISnapshotManager.Snapshot => _snapshot;

    private long StateSnapshotBytes()
    {
        lock (_gate) return _state.SnapshotBytes;
    }

    /// <summary>Writes a captured state as the snapshot at (index, term), then makes it the one the WAL compacts to.</summary>
    private async Task WriteSnapshotAsync(StateImage image, long index, long term, CancellationToken token)
    {
        var t0 = RaftProfile.Now;
        var file = SnapshotFile(index, term);
        var segmentIds = image.Segments.Select(s => s.Id).ToArray();
        try
        {
            if (BeforeSnapshotWrite is { } hook) await hook().ConfigureAwait(false);
            // the bodies first: once published, DotNext deletes the log the snapshot covers, and with it the only
            // other copy of those bytes
            _state.FlushBodiesToDisk(image);
            await using (var stream = new FileStream(file.FullName + PartialSuffix, FileMode.Create, FileAccess.Write, FileShare.None, CopyBlock))
            {
                // written out as it goes (Writeback), so the final fsync does not hold the disk, and the WAL's fsyncs
                // behind it, for the time a large index's dirty pages take
                image.WriteIndexed(stream, token, onProgress: () =>
                {
                    stream.Flush();
                    Writeback.Start(stream.SafeFileHandle, 0, 0);
                });
                stream.Flush(flushToDisk: true);
            }
            File.Move(file.FullName + PartialSuffix, file.FullName, overwrite: true);
            DirectorySync.Flush(_location.FullName); // the rename too must survive a power loss before the log goes
        }
        catch (Exception e)
        {
            lock (_gate) _state.ReleaseSegments(segmentIds);
            if (e is OperationCanceledException && token.IsCancellationRequested)
            {
                File.Delete(file.FullName + PartialSuffix); // stopping: the log still holds everything
                return;
            }
            throw;
        }
        file.Refresh();
        lock (_gate) _snapshotSegments[index] = segmentIds;
        _snapshot = new StateSnapshot(file, index, term, StateImage.Indexed, _bodies);
        RaftProfile.Count(ref RaftProfile.Snapshots);
        RaftProfile.Count(ref RaftProfile.SnapshotBytes, file.Length);
        RaftProfile.Add(ref RaftProfile.SnapshotTicks, t0);
    }

    /// <summary>Replaces the state by a snapshot the leader sent: stored as this node's newest snapshot, then restored.</summary>
    private async ValueTask<long> InstallSnapshotAsync(LogEntry entry, CancellationToken token)
    {
        await _snapshotting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // of an older state: moot now
        var file = SnapshotFile(entry.Index, entry.Term);
        using (var handle = File.OpenHandle(file.FullName + PartialSuffix, FileMode.Create, FileAccess.Write))
        {
            using var writer = new FileWriter(handle);
            await entry.WriteToAsync(writer, token).ConfigureAwait(false);
            await writer.WriteAsync(token).ConfigureAwait(false);
            RandomAccess.FlushToDisk(handle);
        }
        File.Move(file.FullName + PartialSuffix, file.FullName, overwrite: true);
        DirectorySync.Flush(_location.FullName);
        file.Refresh();
        await RestoreFromAsync(file, entry.Index, token).ConfigureAwait(false); // full form: the body files are rewritten
        _snapshot = new StateSnapshot(file, entry.Index, entry.Term, StateImage.Full, _bodies);
        Volatile.Write(ref _lastAppliedIndex, entry.Index);
        return entry.Index;
    }

    /// <summary>Restores the newest snapshot on disk, if any; call once, before the WAL starts applying.</summary>
    public async ValueTask RestoreAsync(CancellationToken token)
    {
        var newest = _location.EnumerateFiles().Select(f => StateSnapshot.TryOpen(f, _bodies)).OfType<StateSnapshot>().MaxBy(s => s.Index);
        if (newest is null)
        {
            lock (_gate) _state.ResetBodies(); // files an earlier run left: their events all come from the log again
            return;
        }
        await RestoreFromAsync(newest.File, newest.Index, token).ConfigureAwait(false);
        _snapshot = newest;
        Volatile.Write(ref _lastAppliedIndex, newest.Index);
    }

    private async ValueTask RestoreFromAsync(FileInfo snapshotFile, long index, CancellationToken token)
    {
        await using var image = new FileStream(snapshotFile.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBlock);
        token.ThrowIfCancellationRequested();
        lock (_gate)
        {
            // full form: streamed, bodies go to new body files as they are read; indexed: the files it lists are kept
            var segments = _state.Restore(image);
            _snapshotSegments.Clear(); // earlier snapshots' files are gone or adopted by this one
            if (segments.Length > 0) _snapshotSegments[index] = segments.Select(s => s.Id).ToArray();
        }
        _appliedSinceSnapshot = _logBytesSinceSnapshot = 0;
        Interlocked.Increment(ref _restoredSnapshots);
    }

    /// <summary>
    /// Deletes snapshots older than the one DotNext now knows as the newest (it reads none of them again), and lets go
    /// of the body files only they referred to.
    /// </summary>
    ValueTask ISnapshotManager.ReclaimGarbageAsync(long watermark, CancellationToken token)
    {
        foreach (var old in _location.EnumerateFiles().Select(f => StateSnapshot.TryOpen(f, _bodies)).OfType<StateSnapshot>())
        {
            if (old.Index >= watermark || old.Index == _snapshot?.Index) continue;
            old.File.Delete();
            lock (_gate)
                if (_snapshotSegments.Remove(old.Index, out var segmentIds))
                    _state.ReleaseSegments(segmentIds);
        }
        return ValueTask.CompletedTask;
    }

    private FileInfo SnapshotFile(long index, long term) => new(Path.Combine(_location.FullName, $"{index}-{term}"));
}
