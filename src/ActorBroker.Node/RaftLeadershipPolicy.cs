namespace ActorBroker.Node;

/// <summary>What <see cref="RaftLeaderFollowsOldest"/> does to its Raft replica after one look at the cluster.</summary>
public enum RaftModeChange
{
    /// <summary>Nothing to change.</summary>
    None,
    /// <summary>Normal Raft mode: this node may campaign.</summary>
    LeaveStandby,
    /// <summary>Standby: this node votes and replicates but never campaigns.</summary>
    EnterStandby,
    /// <summary>This leader is not the oldest: give leadership up and enter standby in one move.</summary>
    StepDown,
    /// <summary>This node is the oldest but cannot win (its log is behind): ask the other members to campaign.</summary>
    AskOthersToAssist,
}

/// <summary>
/// The decisions of <see cref="RaftLeaderFollowsOldest"/>, kept free of Akka and Raft so every rule is unit-tested:
/// the oldest reachable member runs in normal Raft mode and every other one in standby; a leader that is not the oldest
/// steps down after <c>hand-over-delay</c>; an oldest member that has not won for <c>assist-after</c> asks the others to
/// campaign, and an asked member campaigns for <c>assist-window</c>. Not thread-safe: one actor owns it.
/// </summary>
public sealed class RaftLeadershipPolicy(RaftLeaderFollowsOldestSettings settings)
{
    private DateTime? _oldestWithoutLeadershipSince;
    private DateTime _lastAssistRequest = DateTime.MinValue;
    private DateTime? _leadingAsNonOldestSince;
    private DateTime _assistUntil = DateTime.MinValue;

    /// <summary>The oldest member asked this node to campaign (it cannot win with its log).</summary>
    public void AssistRequested(DateTime now) => _assistUntil = now + settings.AssistWindow;

    /// <summary>
    /// One look: is this node the oldest reachable member, does it lead, is it in standby, does it know another node as
    /// the leader.
    /// </summary>
    public RaftModeChange Decide(bool isOldest, bool isLeader, bool isStandby, DateTime now, bool anotherLeads = false)
    {
        if (isOldest)
        {
            _leadingAsNonOldestSince = null;
            _assistUntil = DateTime.MinValue;
            if (isStandby)
            {
                _oldestWithoutLeadershipSince = now;
                return RaftModeChange.LeaveStandby;
            }

            if (isLeader)
            {
                _oldestWithoutLeadershipSince = null;
                return RaftModeChange.None;
            }

            if (anotherLeads)
            {
                // A hand-over is under way (an assisting leader brings this log up to date, or the old leader has not
                // been given up yet): the clock restarts, so asking again does not pull the assistant back into a
                // campaign just as it steps down for this node (seen: a 4 s takeover of two assist rounds).
                _oldestWithoutLeadershipSince = now;
                return RaftModeChange.None;
            }

            _oldestWithoutLeadershipSince ??= now;
            if (now - _oldestWithoutLeadershipSince < settings.AssistAfter || now - _lastAssistRequest < settings.AssistAfter)
                return RaftModeChange.None;
            _lastAssistRequest = now;
            return RaftModeChange.AskOthersToAssist;
        }

        _oldestWithoutLeadershipSince = null;
        if (isLeader)
        {
            // Lead one replication round first: the oldest then has this log and can win the next election.
            _leadingAsNonOldestSince ??= now;
            if (now - _leadingAsNonOldestSince < settings.HandOverDelay) return RaftModeChange.None;
            _leadingAsNonOldestSince = null;
            _assistUntil = DateTime.MinValue;
            return RaftModeChange.StepDown;
        }

        _leadingAsNonOldestSince = null;
        if (now < _assistUntil) return isStandby ? RaftModeChange.LeaveStandby : RaftModeChange.None;
        return isStandby ? RaftModeChange.None : RaftModeChange.EnterStandby;
    }

    /// <summary>How long this node has been the oldest without leading (for the log), or zero.</summary>
    public TimeSpan OldestWithoutLeadershipFor(DateTime now) => _oldestWithoutLeadershipSince is { } since ? now - since : TimeSpan.Zero;
}
