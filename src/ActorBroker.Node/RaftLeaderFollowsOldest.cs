using ActorBroker.Persistence.Raft;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorBroker.Node;

/// <summary>
/// Replicated-raft profile only: makes the Raft leader and the oldest cluster member the same node. The cluster singleton
/// (the broker manager) runs on the oldest member, but its lease (the Raft-leader lease) can be acquired only by the
/// Raft leader, and elections pick a random node. So every node that is not the oldest reachable member stays in Raft
/// standby (it votes and replicates but never campaigns), and the oldest one runs in normal mode: normally only it can
/// win an election.
/// </summary>
/// <remarks>
/// <para>
/// Raft voters refuse a candidate whose log is behind their own. A write commits on a majority, so after the leader dies
/// the oldest survivor may lack the last entries that another survivor has: it then can never win, and the node that
/// could win stays in standby — a deadlock (seen intermittently after kill -9 under load). The oldest therefore tells
/// the others its last log index as it starts campaigning, and a member whose log is longer campaigns at once
/// (<see cref="AssistElection"/>); the others are asked unconditionally once it has failed to win for
/// <c>assist-after</c> (a log behind in term rather than length, a lost message). Whoever wins
/// replicates its log to the oldest, keeps leading for <c>hand-over-delay</c> (one replication round), then steps down
/// into standby, and the oldest, now up to date, wins the next election.
/// </para>
/// <para>
/// "Oldest" ignores unreachable members, so as soon as the master is unreachable its successor leaves standby and
/// campaigns while Akka still downs and removes the dead node. Mode changes only cost elections, never safety: the
/// lease follows Raft leadership whatever this actor does. A stepping-down leader enters standby in the same move
/// (resigning alone was tried first: a resigned leader kept winning the next election, measured 18 times in a row).
/// </para>
/// </remarks>
public sealed class RaftLeaderFollowsOldest : ReceiveActor, IWithTimers
{
    public const string Name = "raft-leader-follows-oldest";
    private const string CheckTimer = "raft-leader-check";
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly RaftLeadershipPolicy _policy;
    private RaftReplica? _replica;
    private bool _changing;

    public RaftLeaderFollowsOldest(RaftLeaderFollowsOldestSettings settings)
    {
        _policy = new RaftLeadershipPolicy(settings);
        Receive<RaftReplica>(replica =>
        {
            _replica = replica;
            Timers.StartPeriodicTimer(CheckTimer, Check.Instance, settings.CheckInterval);
        });
        Receive<Status.Failure>(failure => _log.Error(failure.Cause, "Raft replica unavailable: the Raft leader cannot follow the oldest member"));
        Receive<Check>(_ => Align());
        Receive<AssistElection>(request =>
        {
            if (request.IfLogBeyond is { } theirs)
            {
                // the oldest just started campaigning: it cannot win this node's vote if this log is longer
                if (_replica is not { } replica || replica.LastLogIndex <= theirs) return;
                _log.Info("The oldest member [{0}] campaigns with a log behind this node's (last index {1} < {2}): campaigning for up to {3}",
                    Sender.Path.Address, theirs, replica.LastLogIndex, settings.AssistWindow);
            }
            else
            {
                _log.Info("The oldest member [{0}] cannot win a Raft election (its log is behind): campaigning for up to {1}", Sender.Path.Address, settings.AssistWindow);
            }
            _policy.AssistRequested(DateTime.UtcNow);
            Align();
        });
        Receive<ModeChanged>(changed =>
        {
            _changing = false;
            _log.Info("Raft mode change [{0}]: {1}", changed.What, changed.Outcome);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(RaftLeaderFollowsOldestSettings settings) =>
        Akka.Actor.Props.Create(() => new RaftLeaderFollowsOldest(settings));

    protected override void PreStart() => RaftReplication.Get(Context.System).Replica.PipeTo(Self);

    private void Align()
    {
        if (_replica is not { } replica || _changing) return;
        var state = _cluster.State;
        var reachableUp = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving && !state.Unreachable.Contains(m))
            .OrderBy(m => m, Member.AgeOrdering)
            .ToList();
        if (reachableUp.Count == 0) return;
        var now = DateTime.UtcNow;
        var oldest = reachableUp[0].Address;

        var anotherLeads = !replica.IsLeader && replica.Leader is not null;
        switch (_policy.Decide(oldest == _cluster.SelfAddress, replica.IsLeader, replica.IsStandby, now, anotherLeads))
        {
            case RaftModeChange.LeaveStandby when oldest == _cluster.SelfAddress:
                Change("leave standby: this node is the oldest reachable member", replica.SetStandbyAsync(false));
                // A member whose log is longer (it acknowledged the dead leader's last entries, this node did not)
                // refuses its vote, and the 3-node case then waits for assist-after: tell the others now.
                Ask(reachableUp.Skip(1), new AssistElection(replica.LastLogIndex));
                break;
            case RaftModeChange.LeaveStandby:
                Change("leave standby to assist the oldest member's election", replica.SetStandbyAsync(false));
                break;
            case RaftModeChange.EnterStandby:
                Change("enter standby: the oldest reachable member is " + oldest, replica.SetStandbyAsync(true));
                break;
            case RaftModeChange.StepDown:
                Change("step down into standby: the oldest reachable member is " + oldest, StepDownAsync(replica));
                break;
            case RaftModeChange.AskOthersToAssist:
                _log.Warning("This node (the oldest member) has not won a Raft election for {0}; asking the other members to campaign",
                    _policy.OldestWithoutLeadershipFor(now));
                Ask(reachableUp.Skip(1), new AssistElection(null));
                break;
        }
    }

    private void Ask(IEnumerable<Member> others, AssistElection request)
    {
        foreach (var member in others)
            Context.ActorSelection(new RootActorPath(member.Address) / "user" / Name).Tell(request);
    }

    /// <summary>
    /// Leader to standby without a campaigning follower in between; DotNext versions that refuse standby to a leader
    /// get a resignation first.
    /// </summary>
    private static async Task<bool> StepDownAsync(RaftReplica replica)
    {
        if (await replica.SetStandbyAsync(true).ConfigureAwait(false)) return true;
        await replica.ResignAsync().ConfigureAwait(false);
        return await replica.SetStandbyAsync(true).ConfigureAwait(false);
    }

    private void Change(string what, Task<bool> change)
    {
        _changing = true;
        change.ContinueWith(t => new ModeChanged(what, t.IsCompletedSuccessfully ? (t.Result ? "done" : "refused") : t.Exception?.GetBaseException().Message ?? "canceled"),
            TaskContinuationOptions.ExecuteSynchronously).PipeTo(Self);
    }

    /// <summary>Self → self every check interval. No reply.</summary>
    private sealed class Check
    {
        public static readonly Check Instance = new();
    }

    /// <summary>
    /// Oldest member's instance → every other member's instance: "I cannot win a Raft election, campaign for a while";
    /// with <see cref="IfLogBeyond"/> (sent as the oldest starts campaigning): "campaign if your log's last index is
    /// beyond this one", i.e. if you would refuse me your vote. No reply. Public so Akka's default serializer carries it.
    /// </summary>
    public sealed record AssistElection(long? IfLogBeyond);

    /// <summary>Mode change task → self: what was attempted and its outcome, for the log. No reply.</summary>
    private sealed record ModeChanged(string What, string Outcome);
}
