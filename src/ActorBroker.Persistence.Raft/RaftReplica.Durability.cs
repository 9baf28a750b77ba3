using ActorBroker.Persistence.Raft.Internal;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// <c>sync-mode = quorum_disk</c>: a write is acknowledged only once a majority has it on disk. DotNext 6.12 commits
/// an entry on the leader once a majority received it, and its followers answer an append before flushing it; but
/// every node commits an index only after flushing its log through it (<c>WriteAheadLog.CommitAsync</c>) and applies
/// only committed entries. So each follower reports its applied index to the leader (<see cref="DurableQuorum"/>) and
/// the leader, after applying a round, waits for enough reports. <c>quorum_mem</c> skips the wait.
/// (Calling <c>WriteAheadLog.FlushAsync</c> from here instead crashed the process: its completion event admits one
/// waiter, and DotNext's own commit path is that waiter.)
/// </summary>
public sealed partial class RaftReplica
{
    /// <summary>How long a follower with nothing new to report waits before looking again (a leader change).</summary>
    private static readonly TimeSpan ReportIdle = TimeSpan.FromMilliseconds(100);

    private bool WaitsForDurableQuorum => _settings.SyncMode == RaftSyncMode.QuorumDisk;

    private long _reportLoopTurns;

    /// <summary>How many times the applied-index reporter looked for something to report (tests: an idle follower stays idle).</summary>
    internal long ReportLoopTurns => Interlocked.Read(ref _reportLoopTurns);

    /// <summary>
    /// Leader, quorum_disk: returns once enough followers applied the entry at <paramref name="index"/> for a majority
    /// to have it on disk. Followers learn the new commit index from the next replication round, started now instead
    /// of at the next heartbeat.
    /// </summary>
    private async Task WaitUntilDurableAsync(long index, CancellationToken token)
    {
        if (!WaitsForDurableQuorum) return;
        _ = _cluster.ForceReplicationAsync(CancellationToken.None).AsTask()
            .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        await _durableQuorum.WaitAsync(index, token).ConfigureAwait(false);
    }

    /// <summary>Follower, quorum_disk: reports its applied index to the current leader whenever it grows or the leader changes.</summary>
    private async Task ReportAppliedIndexLoopAsync()
    {
        if (!WaitsForDurableQuorum) return;
        using var client = new ForwardingClient(); // its own connection: reports never wait behind a forwarded batch
        long reported = -1;
        System.Net.IPEndPoint? reportedTo = null;
        while (!_stopping.IsCancellationRequested)
        {
            Interlocked.Increment(ref _reportLoopTurns);
            try
            {
                if (IsLeader || Leader is not { } leader || _settings.ForwardingEndpointOf(leader) is not { } target)
                {
                    reportedTo = null;
                    await Task.Delay(RetryPause, _stopping.Token).ConfigureAwait(false);
                    continue;
                }

                // The WAL's applied index, the one WaitForApplyAsync below compares with: it also counts entries
                // without payload (a new leader's no-op), which never reach the state machine. Reading the state
                // machine's index here left a follower whose last entry was such a no-op spinning on a wait that
                // completed at once, a whole core until the next write.
                var applied = _log.LastAppliedIndex;
                if (applied != reported || !target.Equals(reportedTo))
                {
                    await client.ReportAppliedAsync(target, _settings.SelfIndex, applied, _stopping.Token).ConfigureAwait(false);
                    reported = applied;
                    reportedTo = target;
                    continue;
                }

                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                idle.CancelAfter(ReportIdle);
                try { await _log.WaitForApplyAsync(reported + 1, idle.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested) { }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception)
            {
                // leader gone or connection refused: report again (to whoever leads) after a pause
                reportedTo = null;
                try { await Task.Delay(RetryPause, _stopping.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
    }
}
