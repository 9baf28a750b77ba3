namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The leader's view of how far each follower has applied its log, from the followers' own reports (see
/// <c>RaftReplica.Durability.cs</c>). In DotNext 6.12 a node commits an index only once its log is flushed through
/// it, and applies only what it committed, so a follower's applied index is also flushed. <c>sync-mode = quorum_disk</c>
/// acknowledges a write once enough followers reported its index that, with the leader, a majority has it on disk; a
/// Raft commit alone means a majority received it and the leader flushed it (<c>quorum_mem</c>). Thread-safe.
/// </summary>
internal sealed class DurableQuorum(int members, int selfIndex)
{
    private readonly object _gate = new();
    private readonly long[] _applied = new long[members]; // per member; the leader's own slot is unused
    private readonly List<(long Index, TaskCompletionSource Done)> _waiters = [];

    /// <summary>Followers that must have an entry on disk besides the leader: a majority minus the leader.</summary>
    public int FollowersNeeded { get; } = members / 2;

    /// <summary>
    /// A follower's report: it applied (so flushed) its log through <paramref name="index"/>. The latest report counts,
    /// not the highest: a follower whose disk was wiped reports less than before, and rightly counts less.
    /// </summary>
    public void Report(int member, long index)
    {
        if (member < 0 || member >= _applied.Length || member == selfIndex) return;
        List<TaskCompletionSource>? done = null;
        lock (_gate)
        {
            _applied[member] = index;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Done.Task.IsCompleted) { _waiters.RemoveAt(i); continue; } // its caller gave up
                if (!IsDurable(_waiters[i].Index)) continue;
                (done ??= []).Add(_waiters[i].Done);
                _waiters.RemoveAt(i);
            }
        }
        if (done is not null) foreach (var d in done) d.TrySetResult();
    }

    /// <summary>Completes once <see cref="FollowersNeeded"/> followers reported <paramref name="index"/> or beyond.</summary>
    public Task WaitAsync(long index, CancellationToken token)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            if (IsDurable(index)) return Task.CompletedTask;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.RemoveAll(w => w.Done.Task.IsCompleted);
            _waiters.Add((index, done));
        }
        // a canceled wait completes its source, so the next report or wait drops it from the list
        var registration = token.Register(static state => ((TaskCompletionSource)state!).TrySetCanceled(), done);
        done.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, TaskScheduler.Default);
        return done.Task;
    }

    private bool IsDurable(long index)
    {
        var count = 0;
        for (var m = 0; m < _applied.Length; m++)
            if (m != selfIndex && _applied[m] >= index) count++;
        return count >= FollowersNeeded;
    }
}
