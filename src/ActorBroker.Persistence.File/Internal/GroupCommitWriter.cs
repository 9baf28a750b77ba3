using System.Threading.Channels;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>One serialized AtomicWrite, ready to be framed.</summary>
internal sealed record PreparedWrite(string PersistenceId, string WriterUuid, IReadOnlyList<StoredEvent> Events)
{
    public int EstimatedBytes { get; } = 64 + PersistenceId.Length * 3 + Events.Sum(e => 64 + e.Payload.Length + e.SerializerManifest.Length + e.AdapterManifest.Length);
}

/// <summary>Requests the journal actor hands to the writer loop; each completes its task after the outcome is durable.</summary>
internal abstract class WriteRequest
{
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

internal sealed class AppendRequest(IReadOnlyList<PreparedWrite> writes) : WriteRequest
{
    public IReadOnlyList<PreparedWrite> Writes { get; } = writes;
    public int EstimatedBytes { get; } = writes.Sum(w => w.EstimatedBytes);
}

internal sealed class DeleteRequest(string persistenceId, long toSequenceNr) : WriteRequest
{
    public string PersistenceId { get; } = persistenceId;
    public long ToSequenceNr { get; } = toSequenceNr;
}

/// <summary>Completes once every earlier request is done and the index reflects the current fence (takeover or refresh).</summary>
internal sealed class SyncRequest : WriteRequest;

/// <summary>
/// The single writer of a <see cref="SegmentLog"/>. Requests from every persistent actor queue here; the loop takes
/// all that are waiting (up to <c>max-batch-bytes</c>), frames them into one buffer, and commits it with one write
/// and one fsync. Each request's task completes only after that fsync. An I/O error fails the whole batch.
/// </summary>
internal sealed class GroupCommitWriter : IAsyncDisposable
{
    private readonly SegmentLog _log;
    private readonly Func<long> _currentEpoch;
    private readonly int _maxBatchBytes;
    private readonly int _queueCapacity;
    private readonly Action<string> _warn;
    private readonly Channel<WriteRequest> _queue = Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });
    private readonly GrowableBuffer _buffer = new(1024 * 1024);
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WriteRequest? _carried;
    private int _queued;

    public GroupCommitWriter(SegmentLog log, Func<long> currentEpoch, int maxBatchBytes, int queueCapacity, Action<string> warn)
    {
        _log = log;
        _currentEpoch = currentEpoch;
        _maxBatchBytes = maxBatchBytes;
        _queueCapacity = queueCapacity;
        _warn = warn;
        _thread = new Thread(Run) { IsBackground = true, Name = $"file-journal-writer" };
        _thread.Start();
    }

    /// <summary>Number of group commits done (one write + one fsync each); for tests and the benchmark.</summary>
    public long Commits { get; private set; }

    public Task Enqueue(WriteRequest request)
    {
        if (Interlocked.Increment(ref _queued) > _queueCapacity)
        {
            Interlocked.Decrement(ref _queued);
            return Task.FromException(new JournalOverloadedException(_log.Directory, _queueCapacity));
        }
        if (!_queue.Writer.TryWrite(request))
        {
            Interlocked.Decrement(ref _queued);
            return Task.FromException(new JournalStoppedException(_log.Directory));
        }
        return request.Completion.Task;
    }

    private void Run()
    {
        var batch = new List<WriteRequest>();
        try
        {
            while (_carried is not null || _queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                TakeBatch(batch);
                Interlocked.Add(ref _queued, -batch.Count);
                Process(batch);
                batch.Clear();
            }
        }
        finally
        {
            while (_queue.Reader.TryRead(out var left)) left.Completion.TrySetException(new JournalStoppedException(_log.Directory));
            _carried?.Completion.TrySetException(new JournalStoppedException(_log.Directory));
            _stopped.TrySetResult();
        }
    }

    /// <summary>Appends form one batch; a delete is committed alone so it sees every earlier append in the index.</summary>
    private void TakeBatch(List<WriteRequest> batch)
    {
        var bytes = 0;
        while (true)
        {
            WriteRequest? next = _carried;
            _carried = null;
            if (next is null && !_queue.Reader.TryRead(out next)) return;
            if (batch.Count > 0 && (next is DeleteRequest || bytes + Size(next) > _maxBatchBytes))
            {
                _carried = next;
                return;
            }
            batch.Add(next);
            bytes += Size(next);
            if (next is DeleteRequest) return;
        }
    }

    private static int Size(WriteRequest request) => request is AppendRequest a ? a.EstimatedBytes : 64;

    private void Process(List<WriteRequest> batch)
    {
        try
        {
            EnsureCurrentEpoch();
            if (batch.Any(r => r is not SyncRequest)) _log.ThrowIfNotWriter(); // fencing before any other verdict
            if (batch[0] is DeleteRequest delete) CommitDelete(delete);
            else CommitAppends(RefuseRewrites(batch));
            foreach (var request in batch) request.Completion.TrySetResult();
        }
        catch (Exception e)
        {
            foreach (var request in batch)
                if (request is SyncRequest && e is FencedOutException)
                    request.Completion.TrySetResult(); // fenced out: the index was refreshed as a reader, reads still work
                else
                    request.Completion.TrySetException(e); // e.g. unreadable directory: recovery must fail, not see nothing
        }
    }

    /// <summary>
    /// Fails (alone) each request that would write a sequence number its persistence id already has: a second
    /// writer of one id, or a writer with a stale view, must not fork the history (SQL journals get the same from
    /// their unique key). The other requests of the batch are committed.
    /// </summary>
    private List<AppendRequest> RefuseRewrites(List<WriteRequest> batch)
    {
        var accepted = new List<AppendRequest>(batch.Count);
        var highest = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var request in batch.OfType<AppendRequest>())
        {
            var proposed = new Dictionary<string, long>(StringComparer.Ordinal);
            DuplicateSequenceNrException? conflict = null;
            foreach (var write in request.Writes)
            {
                if (write.Events.Count == 0) continue;
                var known = proposed.TryGetValue(write.PersistenceId, out var p) ? p
                    : highest.TryGetValue(write.PersistenceId, out var h) ? h
                    : _log.HighestSequenceNr(write.PersistenceId);
                if (write.Events[0].SequenceNr <= known)
                {
                    conflict = new DuplicateSequenceNrException(write.PersistenceId, write.Events[0].SequenceNr, known);
                    break;
                }
                proposed[write.PersistenceId] = write.Events[^1].SequenceNr;
            }
            if (conflict is not null) { request.Completion.TrySetException(conflict); continue; }
            foreach (var (pid, seq) in proposed) highest[pid] = seq;
            accepted.Add(request);
        }
        return accepted;
    }

    /// <summary>Takes over when this system acquired a newer epoch; as a reader, picks up another writer's new history.</summary>
    private void EnsureCurrentEpoch()
    {
        var epoch = _currentEpoch();
        if (epoch > _log.WriterEpoch && epoch >= _log.KnownFenceEpoch)
        {
            try { _log.TakeOver(epoch); }
            catch (FencedOutException) { _log.RefreshIfFenceMoved(); throw; }
        }
        else _log.RefreshIfFenceMoved();
    }

    private void CommitAppends(List<AppendRequest> appends)
    {
        if (appends.Count == 0) return;
        _buffer.Clear();
        var updates = new List<IndexUpdate>();
        foreach (var request in appends)
            foreach (var write in request.Writes)
            {
                var offset = _buffer.Length;
                var slices = new List<(int Offset, int Length)>(write.Events.Count);
                RecordFormat.WriteEvents(_buffer, _log.WriterEpoch, write.PersistenceId, write.WriterUuid, write.Events, slices);
                var located = new List<(long, int, int)>(slices.Count);
                for (var i = 0; i < slices.Count; i++) located.Add((write.Events[i].SequenceNr, slices[i].Offset, slices[i].Length));
                updates.Add(new EventsUpdate(write.PersistenceId, offset, write.WriterUuid, located));
            }
        _log.Append(_buffer, updates);
        Commits++;
    }

    private void CommitDelete(DeleteRequest delete)
    {
        var highest = _log.HighestSequenceNr(delete.PersistenceId);
        var deletedTo = Math.Min(delete.ToSequenceNr, highest);
        if (deletedTo <= 0) return;
        _buffer.Clear();
        RecordFormat.WriteTombstone(_buffer, _log.WriterEpoch, delete.PersistenceId, deletedTo, highest);
        _log.Append(_buffer, [new TombstoneUpdate(delete.PersistenceId, 0, deletedTo, highest)]);
        Commits++;
        CollectSegments();
    }

    /// <summary>Removes segments with no live event, after re-appending the tombstones they alone hold.</summary>
    private void CollectSegments()
    {
        foreach (var segment in _log.RemovableSegments())
        {
            var carried = _log.TombstonesToCarry(segment);
            if (carried.Count > 0)
            {
                _buffer.Clear();
                var updates = new List<IndexUpdate>(carried.Count);
                foreach (var (pid, deletedTo, highest) in carried)
                {
                    updates.Add(new TombstoneUpdate(pid, _buffer.Length, deletedTo, highest));
                    RecordFormat.WriteTombstone(_buffer, _log.WriterEpoch, pid, deletedTo, highest);
                }
                _log.Append(_buffer, updates);
            }
            _log.Remove(segment);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task.ConfigureAwait(false);
        _log.Dispose();
    }
}
