using ActorBroker.Persistence.Raft;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ActorBroker.Node;

/// <summary>
/// Replicated-raft profile only: makes the Raft leader and the oldest cluster member the same node. The cluster singleton
/// (the broker manager) runs on the oldest member, but its lease (the Raft-leader lease) can be acquired only by the
/// Raft leader, and elections pick a random node: a leader that is not the oldest reachable member resigns, and the
/// next election is tried, until both coincide.
/// </summary>
/// <remarks>
/// "Oldest" ignores unreachable members, so right after the master died the Raft leader already aligns with its
/// successor while Akka still removes the dead node. Resigning is safe at any time: it only costs an election.
/// </remarks>
public sealed class RaftLeaderFollowsOldest : ReceiveActor, IWithTimers
{
    private const string CheckTimer = "raft-leader-check";
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeSpan _resignCooldown;
    private RaftReplica? _replica;
    private DateTime _lastResign = DateTime.MinValue;

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
        Receive<Resigned>(resigned => _log.Info("Raft leadership resigned ({0}): this node is not the oldest reachable member", resigned.Outcome));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TimeSpan checkInterval, TimeSpan resignCooldown) =>
        Akka.Actor.Props.Create(() => new RaftLeaderFollowsOldest(checkInterval, resignCooldown));

    protected override void PreStart() => RaftReplication.Get(Context.System).Replica.PipeTo(Self);

    private void Align()
    {
        if (_replica is not { IsLeader: true } replica || DateTime.UtcNow - _lastResign < _resignCooldown) return;
        var state = _cluster.State;
        var oldest = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving && !state.Unreachable.Contains(m))
            .OrderBy(m => m, Member.AgeOrdering)
            .FirstOrDefault();
        if (oldest is null || oldest.Address == _cluster.SelfAddress) return;

        _lastResign = DateTime.UtcNow;
        replica.ResignAsync().ContinueWith(t => new Resigned(t.IsCompletedSuccessfully ? t.Result.ToString() : t.Exception?.GetBaseException().Message ?? "canceled"),
            TaskContinuationOptions.ExecuteSynchronously).PipeTo(Self);
    }

    /// <summary>Self → self every check interval. No reply.</summary>
    private sealed class Check
    {
        public static readonly Check Instance = new();
    }

    /// <summary>Resign task → self: its outcome, for the log. No reply.</summary>
    private sealed record Resigned(string Outcome);
}
