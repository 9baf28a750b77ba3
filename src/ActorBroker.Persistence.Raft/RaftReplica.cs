using System.Net;
using System.Threading.Channels;
using ActorBroker.Persistence.Raft.Internal;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

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
public sealed partial class RaftReplica : IAsyncDisposable
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);

    private readonly RaftJournalSettings _settings;
    private readonly JournalStateMachine _stateMachine;
    private readonly WriteAheadLog _log;
    private readonly RaftCluster _cluster;
    private readonly ForwardingServer _forwardingServer;
    private readonly ForwardingClient _forwardingClient = new();
    private readonly DurableQuorum _durableQuorum;
    private readonly Channel<PendingOperation> _queue = Channel.CreateUnbounded<PendingOperation>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _committer = Task.CompletedTask;
    private Task _appliedReporter = Task.CompletedTask;
    private int _disposed;

    private RaftReplica(RaftJournalSettings settings, JournalStateMachine stateMachine, WriteAheadLog log, ILoggerFactory? loggerFactory)
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
            LoggerFactory = loggerFactory,
        };

        _cluster = new RaftCluster(configuration)
        {
            AuditTrail = log,
        };
        _durableQuorum = new DurableQuorum(settings.Members.Count, settings.SelfIndex);
        _forwardingServer = new ForwardingServer(settings.ForwardingEndpoints[settings.SelfIndex], SubmitAsLeaderAsync, _durableQuorum.Report);
    }

    /// <summary>Creates the data directories, restores the newest state snapshot, starts Raft, the committer and forwarding.</summary>
    public static async Task<RaftReplica> StartAsync(RaftJournalSettings settings, CancellationToken token = default, ILoggerFactory? loggerFactory = null)
    {
        var stateMachine = new JournalStateMachine(new DirectoryInfo(Path.Combine(settings.DataDirectory, "state")),
            new DirectoryInfo(Path.Combine(settings.DataDirectory, "bodies")), settings.SnapshotInterval, settings.DedupWindow);
        await stateMachine.RestoreAsync(token).ConfigureAwait(false);
        var log = new WriteAheadLog(new WriteAheadLog.Options
        {
            Location = Path.Combine(settings.DataDirectory, "wal"),
            ChunkSize = settings.WalChunkSize,
            // DotNext 6.12's WAL commits an index only after flushing through it, in either memory strategy
            // (FlushOnCommit is obsolete and "always true"), so this is a throughput / resident-memory choice.
            MemoryManagement = settings.WalMemory == RaftWalMemory.Private
                ? WriteAheadLog.MemoryManagementStrategy.PrivateMemory
                : WriteAheadLog.MemoryManagementStrategy.SharedMemory,
        }, stateMachine);

        var replica = new RaftReplica(settings, stateMachine, log, loggerFactory);
        try
        {
            replica._forwardingServer.Start();
            await replica._cluster.StartAsync(token).ConfigureAwait(false);
            replica._committer = replica.CommitLoopAsync();
            replica._appliedReporter = replica.ReportAppliedIndexLoopAsync();
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

    /// <summary>Index of the last entry in this node's log (committed or not); Raft voters compare it with a candidate's.</summary>
    public long LastLogIndex => _log.LastEntryIndex;

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
        => SubmitCoreAsync(operations, leaderOnly: false, _settings.WriteTimeout, token);

    private Task<OperationOutcome[]> SubmitAsLeaderAsync(List<JournalOperation> operations, CancellationToken token)
    {
        if (!IsLeader)
            throw new NotLeaderNowException($"[{_settings.Self}] is not the leader (leader known here: [{Leader?.ToString() ?? "none"}])");
        return SubmitCoreAsync(operations, leaderOnly: true, _settings.WriteTimeout, token);
    }

    private async Task<OperationOutcome[]> SubmitCoreAsync(IReadOnlyList<JournalOperation> operations, bool leaderOnly,
        TimeSpan timeout, CancellationToken token)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var deadline = DateTime.UtcNow + timeout;
        if (operations.Count == 0) return [];
        // one completion for the whole call: a journal write of 200 AtomicWrites resumes its caller once, not 200
        // times (per-operation continuations kept the 2-core machine's thread pool waking and spinning)
        var group = new SubmitGroup(operations.Count);
        for (var i = 0; i < operations.Count; i++)
        {
            var p = new PendingOperation(operations[i], deadline, timeout, leaderOnly, group, i);
            if (!_queue.Writer.TryWrite(p))
                p.TrySetException(new RaftJournalException($"replica [{_settings.Self}] is stopping"));
        }
        return await group.Done.Task.WaitAsync(token).ConfigureAwait(false);
    }

    /// <summary>
    /// Read barrier: completes once this node applied every entry committed before the call (a linearizable read
    /// point). It goes through the log: a <see cref="ReadMark"/> is group-committed like a write (a follower forwards
    /// it), and once its entry is committed and applied here, so is everything before it. DotNext's own barrier reads
    /// the leader's commit index, which right after an election can still lack the last entries the previous leader
    /// committed (and acknowledged): a master recovering a queue from it lost a receipted message.
    /// Fails with <see cref="RaftJournalReadBarrierException"/> after read-timeout.
    /// </summary>
    public async Task ReadBarrierAsync(CancellationToken token = default)
    {
        try
        {
            await SubmitCoreAsync([new ReadMark(OperationIds.Next())], leaderOnly: false, _settings.ReadTimeout, token).ConfigureAwait(false);
        }
        catch (RaftJournalTimeoutException e)
        {
            throw new RaftJournalReadBarrierException(
                $"[{_settings.Self}] could not reach a read point within {_settings.ReadTimeout} " +
                $"(leader known here: [{Leader?.ToString() ?? "none"}]): {e.Message}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _committer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _appliedReporter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    private sealed class PendingOperation(JournalOperation operation, DateTime deadline, TimeSpan timeout, bool leaderOnly,
        SubmitGroup group, int index)
    {
        private int _done;
        public JournalOperation Operation { get; } = operation;
        public DateTime Deadline { get; } = deadline;
        /// <summary>The write-timeout or read-timeout the deadline was set from (for the error message).</summary>
        public TimeSpan Timeout { get; } = timeout;
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
