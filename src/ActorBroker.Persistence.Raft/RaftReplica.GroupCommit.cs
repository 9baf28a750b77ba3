using ActorBroker.Persistence.Raft.Internal;
using DotNext.Net.Cluster.Consensus.Raft;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// The group committer of <see cref="RaftReplica"/>: the single reader of the operation queue. As leader it packs what
/// is queued into log entries (rounds), appends them in queue order and keeps up to max-rounds-in-flight replicating at
/// once; as follower it forwards the batch to the leader. Kept apart from the replica's lifecycle and read path so each
/// file reads whole.
/// </summary>
public sealed partial class RaftReplica
{
    private async Task CommitLoopAsync()
    {
        // Order: Akka sends several WriteMessages of one persistent actor concurrently (PersistAsync) and their order
        // must survive. The queue is FIFO and this loop is its only reader; as leader it appends one log entry per
        // round itself, in queue order, and lets up to max-rounds-in-flight rounds replicate concurrently. Apply
        // order = log order = queue order. Rounds replicated through ReplicateAsync concurrently were seen to reorder
        // (each call appends on its own), which is why the append is here and serial.
        // Failure: all rounds in flight were appended in one leadership term, and Raft commits a prefix of a term's
        // entries, so the rounds that failed are a suffix of those in flight. They are retried in order, under the
        // same operation ids (applied at most once), before anything queued later is appended.
        var reader = _queue.Reader;
        var inFlight = new Queue<LeaderRound>();
        var batch = new List<PendingOperation>();
        Task<bool>? queueWait = null;
        try
        {
            while (true)
            {
                // retire finished rounds, oldest first (a failed one takes every later one into its in-order retry)
                while (inFlight.TryPeek(out var done) && done.Completion.IsCompleted)
                {
                    inFlight.Dequeue();
                    if (!done.Completion.Result) await RetryFailedRoundsAsync(done, inFlight).ConfigureAwait(false);
                }

                if (inFlight.Count < _settings.MaxRoundsInFlight)
                {
                    batch = new List<PendingOperation>();
                    while (batch.Count < _settings.MaxBatchOperations && reader.TryRead(out var p)) batch.Add(p);
                    if (batch.Count > 0)
                    {
                        await DispatchAsync(batch, inFlight).ConfigureAwait(false);
                        batch = [];
                        continue;
                    }
                }

                // Nothing to start: wait for new operations (below the limit) or for the oldest round. One
                // WaitToReadAsync stays pending across iterations: the single-reader channel allows one waiter.
                if (inFlight.Count < _settings.MaxRoundsInFlight)
                {
                    queueWait ??= reader.WaitToReadAsync(_stopping.Token).AsTask();
                    if (inFlight.Count > 0) await Task.WhenAny(inFlight.Peek().Completion, queueWait).ConfigureAwait(false);
                    if (queueWait.IsCompleted || inFlight.Count == 0)
                    {
                        var more = await queueWait.ConfigureAwait(false);
                        queueWait = null;
                        if (!more) break; // completed: the replica is being disposed
                    }
                }
                else
                {
                    await inFlight.Peek().Completion.ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            var stopped = new RaftJournalException($"replica [{_settings.Self}] stopped before the write was committed");
            foreach (var p in batch) p.TrySetException(stopped);
            foreach (var r in inFlight)
            foreach (var p in r.Batch)
                p.TrySetException(stopped);
            while (reader.TryRead(out var p)) p.TrySetException(stopped);
        }
    }

    /// <summary>
    /// Leader: starts a pipelined round. Follower: forwards the batch to the leader, one request at a time (the
    /// forwarding protocol answers in order, and a failed request is retried whole before anything later).
    /// </summary>
    private async Task DispatchAsync(List<PendingOperation> batch, Queue<LeaderRound> inFlight)
    {
        var leadership = _cluster.LeadershipToken;
        if (inFlight.Count > 0 && (leadership.IsCancellationRequested || inFlight.Peek().Leadership != leadership))
        {
            // leadership ended or a new term began: settle the old term's rounds before appending anything
            while (inFlight.TryDequeue(out var r))
                if (!await r.Completion.ConfigureAwait(false)) await RetryFailedRoundsAsync(r, inFlight).ConfigureAwait(false);
            leadership = _cluster.LeadershipToken;
        }

        if (leadership.IsCancellationRequested)
            await CommitBatchAsync(batch).ConfigureAwait(false);
        else
            inFlight.Enqueue(await AppendRoundAsync(batch, leadership).ConfigureAwait(false));
    }

    /// <summary>
    /// Leader: appends the batch as one log entry (this is where its log position, and so its apply order, is fixed)
    /// and starts replicating it; the returned round completes once the entry is committed and applied here.
    /// </summary>
    private async Task<LeaderRound> AppendRoundAsync(List<PendingOperation> batch, CancellationToken leadership)
    {
        var t0 = RaftProfile.Now;
        if (RaftProfile.Enabled) foreach (var p in batch) RaftProfile.Add(ref RaftProfile.QueueWaitTicks, p.EnqueuedAt);
        var outcomes = new Task<OperationOutcome>[batch.Count];
        var operations = new JournalOperation[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            operations[i] = batch[i].Operation;
            outcomes[i] = _stateMachine.AwaitOutcome(operations[i].Id); // registered before the entry can apply
        }
        try
        {
            long index;
            // the WAL copies the content into its pages during the append, so the rented buffer goes back right after
            using (var payload = OperationCodec.EncodePooled(operations))
            {
                RaftProfile.Add(ref RaftProfile.EncodeTicks, t0);
                RaftProfile.Count(ref RaftProfile.Rounds);
                RaftProfile.Count(ref RaftProfile.RoundOps, batch.Count);
                RaftProfile.Count(ref RaftProfile.RoundBytes, payload.Length);
                using var appending = CancellationTokenSource.CreateLinkedTokenSource(leadership, _stopping.Token);
                var appendStarted = RaftProfile.Now;
                index = await _log.AppendAsync(new BinaryLogEntry { Content = payload.Memory, Term = _cluster.Term }, appending.Token)
                    .ConfigureAwait(false);
                RaftProfile.Add(ref RaftProfile.AppendTicks, appendStarted);
            }
            // start a replication round now instead of at the next heartbeat
            _ = _cluster.ForceReplicationAsync(CancellationToken.None).AsTask()
                .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            return new LeaderRound(batch, leadership, AwaitRoundAsync(batch, outcomes, index, leadership));
        }
        catch (Exception) when (!_stopping.IsCancellationRequested)
        {
            // not appended, or appended as leadership ended: the outcome is unknown, the retry path decides
            foreach (var p in batch) _stateMachine.ForgetOutcome(p.Operation.Id);
            return new LeaderRound(batch, leadership, Task.FromResult(false));
        }
    }

    /// <summary>True once every operation of the round is applied here and acknowledged; false: retry the round.</summary>
    private async Task<bool> AwaitRoundAsync(List<PendingOperation> batch, Task<OperationOutcome>[] outcomes, long index, CancellationToken leadership)
    {
        var t1 = RaftProfile.Now;
        try
        {
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(leadership, _stopping.Token);
            var earliest = DateTime.MaxValue;
            foreach (var p in batch) if (p.Deadline < earliest) earliest = p.Deadline;
            waiting.CancelAfter(TimeSpan.FromTicks(Math.Max(0, (earliest - DateTime.UtcNow).Ticks)));
            // committed by a majority (only committed entries are applied) and applied by the local state machine
            await _log.WaitForApplyAsync(index, waiting.Token).ConfigureAwait(false);
            RaftProfile.Add(ref RaftProfile.ReplicateTicks, t1);
            // The entry at our index is ours unless the term changed before it was replicated: then our waiters are
            // still open (another leader's entry took the index) and the round is retried.
            foreach (var outcome in outcomes)
                if (!outcome.IsCompleted) return false;
            var t2 = RaftProfile.Now;
            await WaitUntilDurableAsync(index, waiting.Token).ConfigureAwait(false); // quorum_disk only
            RaftProfile.Add(ref RaftProfile.OutcomeTicks, t2);
            var forwarded = false;
            for (var i = 0; i < batch.Count; i++)
            {
                forwarded |= batch[i].LeaderOnly;
                batch[i].TrySetResult(outcomes[i].Result);
            }
            if (forwarded)
            {
                // Forwarded writes are acknowledged by their follower only once it applied them too, and a follower
                // learns the new commit index from the next replication round: start that round now instead of
                // waiting a heartbeat period (which would add ~lower-election-timeout/2 to every forwarded write).
                _ = _cluster.ForceReplicationAsync(CancellationToken.None).AsTask()
                    .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            }
            return true;
        }
        catch (Exception)
        {
            return false; // leadership lost, deadline reached or stopping: the retry path (or shutdown) decides
        }
        finally
        {
            foreach (var p in batch) _stateMachine.ForgetOutcome(p.Operation.Id);
        }
    }

    /// <summary>
    /// A round failed: waits for the rounds appended after it, then retries every operation not acknowledged, in
    /// queue order, through the one-round-at-a-time path (which also fails expired ones and forwards when this node
    /// no longer leads).
    /// </summary>
    private async Task RetryFailedRoundsAsync(LeaderRound failed, Queue<LeaderRound> inFlight)
    {
        var retry = failed.Batch.Where(p => !p.IsDone).ToList();
        while (inFlight.TryDequeue(out var later))
        {
            await later.Completion.ConfigureAwait(false);
            retry.AddRange(later.Batch.Where(p => !p.IsDone));
        }
        try
        {
            if (retry.Count > 0) await CommitBatchAsync(retry).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // stopping: these operations are no longer in any round or batch the loop's cleanup would fail
            var stopped = new RaftJournalException($"replica [{_settings.Self}] stopped before the write was committed");
            foreach (var p in retry) p.TrySetException(stopped);
            throw;
        }
    }

    private static string Describe(JournalOperation operation) => operation is ReadMark ? "read point" : "write";

    private sealed record LeaderRound(List<PendingOperation> Batch, CancellationToken Leadership, Task<bool> Completion);

    private async Task CommitBatchAsync(List<PendingOperation> batch)
    {
        var remaining = batch;
        var lastProblem = "no leader elected yet";
        while (true)
        {
            var now = DateTime.UtcNow;
            foreach (var p in remaining.Where(p => p.Deadline <= now))
                p.TrySetException(new RaftJournalTimeoutException(
                    $"{Describe(p.Operation)} not committed by a majority within {p.Timeout} on [{_settings.Self}]: {lastProblem}"));
            remaining = remaining.Where(p => !p.IsDone).ToList();
            if (remaining.Count == 0) return;

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            attempt.CancelAfter(remaining.Min(p => p.Deadline) - now);
            try
            {
                if (IsLeader)
                {
                    await ReplicateAsLeaderAsync(remaining, attempt.Token).ConfigureAwait(false);
                    return;
                }

                foreach (var p in remaining.Where(p => p.LeaderOnly))
                    p.TrySetException(new NotLeaderNowException($"[{_settings.Self}] lost leadership before replicating a forwarded write"));
                remaining = remaining.Where(p => !p.LeaderOnly).ToList();
                if (remaining.Count == 0) return;

                var leader = Leader;
                if (leader is null || _settings.ForwardingEndpointOf(leader) is not { } forwardTo)
                {
                    lastProblem = leader is null ? "no leader known (election running or no quorum)" : $"leader [{leader}] is not a configured member";
                    await Task.Delay(RetryPause, attempt.Token).ConfigureAwait(false);
                    continue;
                }

                var tf = RaftProfile.Now;
                if (RaftProfile.Enabled) foreach (var p in remaining) RaftProfile.Add(ref RaftProfile.QueueWaitTicks, p.EnqueuedAt);
                RaftProfile.Count(ref RaftProfile.ForwardRounds);
                RaftProfile.Count(ref RaftProfile.ForwardOps, remaining.Count);
                var (status, outcomes, error) = await _forwardingClient
                    .SendAsync(forwardTo, OperationCodec.Encode(remaining.Select(p => p.Operation).ToList()), attempt.Token)
                    .ConfigureAwait(false);
                if (status == ForwardingProtocol.StatusOk)
                {
                    // applied on the leader; apply here too before acknowledging, so a replay on this node sees it
                    RaftProfile.Add(ref RaftProfile.ForwardTicks, tf);
                    var tw = RaftProfile.Now;
                    await _log.WaitForApplyAsync(outcomes.Max(o => o.LogIndex), attempt.Token).ConfigureAwait(false);
                    RaftProfile.Add(ref RaftProfile.ForwardApplyWaitTicks, tw);
                    for (var i = 0; i < remaining.Count; i++) remaining[i].TrySetResult(outcomes[i]);
                    return;
                }
                lastProblem = $"leader [{leader}] answered: {error}";
                await Task.Delay(RetryPause, attempt.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException)
            {
                // the attempt hit the earliest deadline: the loop head fails the expired operations
            }
            catch (Exception e)
            {
                // NotLeaderException (deposed while replicating), connection failures: the outcome is unknown, so retry
                // under the same operation ids; the state machine applies each id at most once.
                lastProblem = $"{e.GetType().Name}: {e.Message}";
                try { await Task.Delay(RetryPause, attempt.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested) { }
            }
        }
    }

    private async Task ReplicateAsLeaderAsync(List<PendingOperation> batch, CancellationToken token)
    {
        var t0 = RaftProfile.Now;
        if (RaftProfile.Enabled) foreach (var p in batch) RaftProfile.Add(ref RaftProfile.QueueWaitTicks, p.EnqueuedAt);
        var outcomes = batch.Select(p => _stateMachine.AwaitOutcome(p.Operation.Id)).ToArray();
        try
        {
            var payload = OperationCodec.Encode(batch.Select(p => p.Operation).ToList());
            RaftProfile.Add(ref RaftProfile.EncodeTicks, t0);
            RaftProfile.Count(ref RaftProfile.Rounds);
            RaftProfile.Count(ref RaftProfile.RoundOps, batch.Count);
            RaftProfile.Count(ref RaftProfile.RoundBytes, payload.Length);
            var t1 = RaftProfile.Now;
            // appends, replicates, waits for a majority to commit and for the local state machine to apply
            await _cluster.ReplicateAsync(payload, context: null, token).ConfigureAwait(false);
            RaftProfile.Add(ref RaftProfile.ReplicateTicks, t1);
            var t2 = RaftProfile.Now;
            var applied = await Task.WhenAll(outcomes).WaitAsync(token).ConfigureAwait(false);
            await WaitUntilDurableAsync(applied.Max(o => o.LogIndex), token).ConfigureAwait(false); // quorum_disk only
            RaftProfile.Add(ref RaftProfile.OutcomeTicks, t2);
            if (batch.Any(p => p.LeaderOnly))
            {
                // Forwarded writes are acknowledged by their follower only once it applied them too, and a follower
                // learns the new commit index from the next replication round: start that round now instead of
                // waiting a heartbeat period (which would add ~lower-election-timeout/2 to every forwarded write).
                _ = _cluster.ForceReplicationAsync(CancellationToken.None).AsTask()
                    .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            }
            for (var i = 0; i < batch.Count; i++) batch[i].TrySetResult(applied[i]);
        }
        finally
        {
            foreach (var p in batch) _stateMachine.ForgetOutcome(p.Operation.Id);
        }
    }
}
