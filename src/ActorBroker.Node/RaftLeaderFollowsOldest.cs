using ActorBroker.Persistence.Raft;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorBroker.Node;

/// <summary>
/// Replicated-raft profile only: makes the Raft leader and the oldest cluster member the same node. The cluster singleton
/// (the broker manager) runs on the oldest member, but its lease (the Raft-leader lease) can be acquired only by the
/// Raft leader, and elections pick a random node. So every node that is not the oldest reachable member stays in Raft
/// standby (it votes and replicates but never campaigns; a leader resigns first), and the oldest one runs in normal
/// mode: only it can win an election.
/// </summary>
/// <remarks>
/// "Oldest" ignores unreachable members, so as soon as the master is unreachable its successor leaves standby and
/// campaigns while Akka still downs and removes the dead node. Mode changes only cost elections, never safety: the
/// lease follows Raft leadership whatever this actor does. Resigning alone was tried first: a resigned leader kept
/// winning the next election (measured: 18 times in a row), so the others must not campaign at all.
/// </remarks>
public sealed class RaftLeaderFollowsOldest : ReceiveActor, IWithTimers
{
    private const string CheckTimer = "raft-leader-check";
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeSpan _resignCooldown;
    private RaftReplica? _replica;
    private DateTime _lastResign = DateTime.MinValue;
    private bool _changing;

    public RaftLeaderFollowsOldest(TimeSpan checkInterval, TimeSpan resignCooldown)
    {
        _resignCooldown = resignCooldown;
        Receive<RaftReplica>(replica =>
        {
            _replica = replica;
            Timers.StartPeriodicTimer(CheckTimer, Check.Instance, checkInterval);
        });
        Receive<Status.Failure>(failure => _log.Error(failure.Cause, "Raft replica unavailable: the Raft leader cannot follow the oldest member"));
        Receive<Check>(_ => Align());
        Receive<ModeChanged>(changed =>
        {
            _changing = false;
            _log.Info("Raft mode change [{0}]: {1}", changed.What, changed.Outcome);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TimeSpan checkInterval, TimeSpan resignCooldown) =>
        Akka.Actor.Props.Create(() => new RaftLeaderFollowsOldest(checkInterval, resignCooldown));

    protected override void PreStart() => RaftReplication.Get(Context.System).Replica.PipeTo(Self);

    private void Align()
    {
        if (_replica is not { } replica || _changing) return;
        var state = _cluster.State;
        var oldest = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving && !state.Unreachable.Contains(m))
            .OrderBy(m => m, Member.AgeOrdering)
            .FirstOrDefault();
        if (oldest is null) return;

        if (oldest.Address == _cluster.SelfAddress)
        {
            if (replica.IsStandby) Change("leave standby: this node is the oldest reachable member", replica.SetStandbyAsync(false));
        }
        else if (replica.IsLeader)
        {
            if (DateTime.UtcNow - _lastResign < _resignCooldown) return;
            _lastResign = DateTime.UtcNow;
            Change("resign: the oldest reachable member is " + oldest.Address, replica.ResignAsync());
        }
        else if (!replica.IsStandby)
        {
            Change("enter standby: the oldest reachable member is " + oldest.Address, replica.SetStandbyAsync(true));
        }
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

    /// <summary>Mode change task → self: what was attempted and its outcome, for the log. No reply.</summary>
    private sealed record ModeChanged(string What, string Outcome);
}
