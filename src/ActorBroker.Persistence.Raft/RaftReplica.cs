using System.Net;
using System.Threading.Channels;
using ActorBroker.Persistence.Raft.Internal;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// One node of the Raft-replicated journal: a DotNext <see cref="RaftCluster"/> over TCP, a <see cref="WriteAheadLog"/>
/// on local disk, the <see cref="JournalStateMachine"/> every committed entry is applied to, a group committer and the
/// write-forwarding listener. Journal and snapshot-store actors and the leader lease use it through
/// <see cref="RaftReplication"/>.
/// <para>Writes: operations queue up; one committer loop packs everything queued into one log entry and replicates it
/// (one replication round and, in quorum_disk, one fsync per node for all of them). On a follower the batch is
/// forwarded to the leader instead. An operation completes only once committed by a majority and applied locally, so a
/// replay on this node after the acknowledgement sees it. A deposed leader's pending batch fails over: it is retried
/// under the same operation ids (applied at most once) until the write timeout, then fails; it is never acknowledged
/// unless committed.</para>
/// </summary>
public sealed class RaftReplica : IAsyncDisposable
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    private readonly RaftJournalSettings _settings;
    private readonly JournalStateMachine _stateMachine;
    private readonly WriteAheadLog _log;
    private readonly RaftCluster _cluster;
    private readonly ForwardingServer _forwardingServer;
    private readonly ForwardingClient _forwardingClient = new();
    private readonly Channel<PendingOperation> _queue = Channel.CreateUnbounded<PendingOperation>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _committer = Task.CompletedTask;
    private int _disposed;

    private RaftReplica(RaftJournalSettings settings, JournalStateMachine stateMachine, WriteAheadLog log)
    {
        _settings = settings;
        _stateMachine = stateMachine;
        _log = log;

        var configuration = new RaftCluster.TcpConfiguration(settings.Self)
        {
            ColdStart = false, // static membership: every node knows all members, elections decide the leader
            LowerElectionTimeout = (int)settings.LowerElectionTimeout.TotalMilliseconds,
            UpperElectionTimeout = (int)settings.UpperElectionTimeout.TotalMilliseconds,
            RequestTimeout = settings.RequestTimeout,
            TransmissionBlockSize = settings.TransmissionBlockSize,
            ConfigurationStorage = new StaticMembership(settings.Members),
        };

        _cluster = new RaftCluster(configuration)
        {
            AuditTrail = log,
        };
        _forwardingServer = new ForwardingServer(settings.ForwardingEndpoints[settings.SelfIndex], SubmitAsLeaderAsync);
    }

    /// <summary>Creates the data directories, restores the newest state snapshot, starts Raft, the committer and forwarding.</summary>
    public static async Task<RaftReplica> StartAsync(RaftJournalSettings settings, CancellationToken token = default)
    {
        var stateMachine = new JournalStateMachine(
            new DirectoryInfo(Path.Combine(settings.DataDirectory, "state")), settings.SnapshotInterval, settings.DedupWindow);
        await stateMachine.RestoreAsync(token).ConfigureAwait(false);
        var log = new WriteAheadLog(new WriteAheadLog.Options
        {
            Location = Path.Combine(settings.DataDirectory, "wal"),
            ChunkSize = settings.WalChunkSize,
            // DotNext 6.12's WAL always flushes on commit (FlushOnCommit/FlushInterval are obsolete no-ops), so both
            // modes fsync committed entries. quorum_mem only switches the WAL to private write buffers (faster appends).
            MemoryManagement = settings.SyncMode == RaftSyncMode.QuorumMemory
                ? WriteAheadLog.MemoryManagementStrategy.PrivateMemory
                : WriteAheadLog.MemoryManagementStrategy.SharedMemory,
        }, stateMachine);

        var replica = new RaftReplica(settings, stateMachine, log);
        try
        {
            replica._forwardingServer.Start();
            await replica._cluster.StartAsync(token).ConfigureAwait(false);
            replica._committer = replica.CommitLoopAsync();
            return replica;
        }
        catch
        {
            await replica.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public RaftJournalSettings Settings => _settings;

    /// <summary>True while this node is the Raft leader.</summary>
    public bool IsLeader => !_cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>Canceled when this node stops being the leader (a fresh token per leadership term).</summary>
    public CancellationToken LeadershipToken => _cluster.LeadershipToken;

    /// <summary>The current Raft term (the leader lease's epoch).</summary>
    public long Term => _cluster.Term;

    /// <summary>Raft endpoint of the leader this node knows, or null during an election / without quorum.</summary>
    public EndPoint? Leader => _cluster.Leader?.EndPoint;

    /// <summary>
    /// Gives up leadership when this node leads; an election follows. The node uses it so the Raft leader (the only node
    /// whose leader lease can be acquired) ends up where the cluster singleton runs: the oldest member.
    /// </summary>
    public async Task<bool> ResignAsync(CancellationToken token = default) => await ((DotNext.Net.Cluster.ICluster)_cluster).ResignAsync(token).ConfigureAwait(false);

    /// <summary>True while this node is in Raft standby: it votes and replicates but never campaigns.</summary>
    public bool IsStandby => _cluster.Standby;

    /// <summary>
    /// Standby (true) or normal (false) Raft mode. The node keeps every node but the singleton's (the oldest member) in
    /// standby, so only that node can win an election and hold the Raft-leader lease. Entering standby succeeds only as
    /// a follower (returns false otherwise).
    /// </summary>
    public async Task<bool> SetStandbyAsync(bool standby, CancellationToken token = default)
    {
        if (standby) return await _cluster.EnableStandbyModeAsync(token).ConfigureAwait(false);
        await _cluster.RevertToNormalModeAsync(token).ConfigureAwait(false);
        return true;
    }

    internal JournalStateMachine StateMachine => _stateMachine;

    /// <summary>
    /// Replicates the operations (group-committed with whatever else is queued). The task completes with one outcome
    /// per operation once the entry carrying them was committed by a majority and applied on this node, or fails with
    /// <see cref="RaftJournalTimeoutException"/> after write-timeout.
    /// </summary>
    internal Task<OperationOutcome[]> SubmitAsync(IReadOnlyList<JournalOperation> operations, CancellationToken token = default)
        => SubmitCoreAsync(operations, leaderOnly: false, token);

    private Task<OperationOutcome[]> SubmitAsLeaderAsync(List<JournalOperation> operations, CancellationToken token)
    {
        if (!IsLeader)
            throw new NotLeaderNowException($"[{_settings.Self}] is not the leader (leader known here: [{Leader?.ToString() ?? "none"}])");
        return SubmitCoreAsync(operations, leaderOnly: true, token);
    }

    private async Task<OperationOutcome[]> SubmitCoreAsync(IReadOnlyList<JournalOperation> operations, bool leaderOnly, CancellationToken token)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var deadline = DateTime.UtcNow + _settings.WriteTimeout;
        if (operations.Count == 0) return [];
        // one completion for the whole call: a journal write of 200 AtomicWrites resumes its caller once, not 200
        // times (per-operation continuations kept the 2-core machine's thread pool waking and spinning)
        var group = new SubmitGroup(operations.Count);
        for (var i = 0; i < operations.Count; i++)
        {
            var p = new PendingOperation(operations[i], deadline, leaderOnly, group, i);
            if (!_queue.Writer.TryWrite(p))
                p.TrySetException(new RaftJournalException($"replica [{_settings.Self}] is stopping"));
        }
        return await group.Done.Task.WaitAsync(token).ConfigureAwait(false);
    }

    /// <summary>
    /// Read barrier: completes once this node applied everything committed as of the call (a linearizable read point:
    /// the leader confirms its leadership with a replication round; a follower asks the leader for its commit index
    /// and waits to apply up to it). Fails with <see cref="RaftJournalReadBarrierException"/> after read-timeout.
    /// </summary>
    public async Task ReadBarrierAsync(CancellationToken token = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token, _stopping.Token);
        timeout.CancelAfter(_settings.ReadTimeout);
        Exception? last = null;
        try
        {
            while (true)
            {
                try
                {
                    await _cluster.ApplyReadBarrierAsync(timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    last = e; // no leader right now (election in progress, or no quorum): try again until the timeout
                    await Task.Delay(RetryPause, timeout.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new RaftJournalReadBarrierException(
                $"[{_settings.Self}] could not reach a read point within {_settings.ReadTimeout} " +
                $"(leader known here: [{Leader?.ToString() ?? "none"}]): {last?.Message ?? "timed out"}", last);
        }
    }

    // ------------------------------------------------------------------------------------------------- group committer

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
            var payload = OperationCodec.Encode(operations);
            RaftProfile.Add(ref RaftProfile.EncodeTicks, t0);
            RaftProfile.Count(ref RaftProfile.Rounds);
            RaftProfile.Count(ref RaftProfile.RoundOps, batch.Count);
            RaftProfile.Count(ref RaftProfile.RoundBytes, payload.Length);
            using var appending = CancellationTokenSource.CreateLinkedTokenSource(leadership, _stopping.Token);
            var index = await _log.AppendAsync(new BinaryLogEntry { Content = payload, Term = _cluster.Term }, appending.Token)
                .ConfigureAwait(false);
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
                    $"write not committed by a majority within {_settings.WriteTimeout} on [{_settings.Self}]: {lastProblem}"));
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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _committer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _forwardingServer.DisposeAsync().ConfigureAwait(false);
        _forwardingClient.Dispose();
        try { await _cluster.StopAsync(CancellationToken.None).ConfigureAwait(false); }
        catch (Exception) { /* not started or already stopping: disposal below still releases sockets and files */ }
        _cluster.Dispose();
        await _log.DisposeAsync().ConfigureAwait(false);
        await _stateMachine.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>The operations of one submit call: completes with all outcomes, or faults with the first failure.</summary>
    private sealed class SubmitGroup(int count)
    {
        private int _remaining = count;
        public readonly OperationOutcome[] Results = new OperationOutcome[count];
        public readonly TaskCompletionSource<OperationOutcome[]> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OneCompleted()
        {
            if (Interlocked.Decrement(ref _remaining) == 0) Done.TrySetResult(Results);
        }
    }

    private sealed class PendingOperation(JournalOperation operation, DateTime deadline, bool leaderOnly, SubmitGroup group, int index)
    {
        private int _done;
        public JournalOperation Operation { get; } = operation;
        public DateTime Deadline { get; } = deadline;
        public long EnqueuedAt { get; } = RaftProfile.Now;
        public bool LeaderOnly { get; } = leaderOnly;

        /// <summary>True once answered (outcome or failure); an answered operation is never retried.</summary>
        public bool IsDone => Volatile.Read(ref _done) != 0;

        public void TrySetResult(OperationOutcome outcome)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            group.Results[index] = outcome;
            group.OneCompleted();
        }

        public void TrySetException(Exception error)
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) group.Done.TrySetException(error);
        }
    }
}
