using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace ActorBroker.Node;

/// <summary>
/// Downs a member as soon as it is both unreachable (failure detector) and its remoting link has dropped (TCP closed,
/// connection refused): the signature of a dead process, not of a partition. Failover is then bounded by failure
/// detection instead of the split-brain resolver, whose decision tick is hard-coded to 1 s in Akka 1.5.73 and which
/// waits <c>stable-after</c> on top.
/// </summary>
/// <remarks>
/// <para>Safety does not rest on this actor: the broker manager runs only under the lease, and a holder gives the lease
/// up on its own before anyone else may take it. Downing a member that is in fact alive (its link dropped for another
/// reason while unreachable) only removes it from the cluster; it cannot make two broker managers run at once.</para>
/// <para>A partition that keeps TCP connections open (a silent network, the throttler's blackhole) never satisfies
/// "link dropped": the split-brain resolver (keep-majority, or lease-majority) decides those, as before.</para>
/// <para>Why both signals: the failure detector alone flaps on a starved machine; a dropped link alone happens during
/// ordinary reconnects. A dead process shows both within a few hundred milliseconds.</para>
/// </remarks>
public sealed class FastDown : ReceiveActor, IWithTimers
{
    private const string CheckTimer = "fast-down-check";
    private readonly FastDownSettings _settings;
    private readonly Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, (UniqueAddress Member, long Since)> _unreachable = new();
    private readonly Dictionary<Address, long> _linkDown = new();
    private readonly HashSet<UniqueAddress> _downed = new();

    public FastDown(FastDownSettings settings)
    {
        _settings = settings;
        _cluster = Cluster.Get(Context.System);

        Receive<ClusterEvent.UnreachableMember>(e =>
        {
            _unreachable[e.Member.Address] = (e.Member.UniqueAddress, Stopwatch.GetTimestamp());
            Evaluate();
        });
        Receive<ClusterEvent.ReachableMember>(e =>
        {
            _unreachable.Remove(e.Member.Address);
            Evaluate();
        });
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            _unreachable.Remove(e.Member.Address);
            _linkDown.Remove(e.Member.Address);
            _downed.Remove(e.Member.UniqueAddress);
            Evaluate();
        });
        Receive<DisassociatedEvent>(e => LinkDropped(e.RemoteAddress));
        Receive<AssociationErrorEvent>(e => LinkDropped(e.RemoteAddress));
        Receive<AssociatedEvent>(e =>
        {
            _linkDown.Remove(e.RemoteAddress);
            Evaluate();
        });
        Receive<Check>(_ => Evaluate());
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(FastDownSettings settings) => Akka.Actor.Props.Create(() => new FastDown(settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private void LinkDropped(Address remote)
    {
        _linkDown.TryAdd(remote, Stopwatch.GetTimestamp());
        Evaluate();
    }

    /// <summary>The one place that decides: downs every member meeting both conditions, keeps the check timer while any waits.</summary>
    private void Evaluate()
    {
        var waiting = false;
        foreach (var (address, (member, since)) in _unreachable)
        {
            if (address == _cluster.SelfAddress || _downed.Contains(member) || !_linkDown.ContainsKey(address))
                continue;
            var unreachableFor = Stopwatch.GetElapsedTime(since);
            if (unreachableFor < _settings.MinUnreachable)
            {
                waiting = true;
                continue;
            }

            _log.Info("Fast-down: downing [{0}]: unreachable for {1} ms and its remoting link dropped (dead process, not a partition)",
                member, (long)unreachableFor.TotalMilliseconds);
            _downed.Add(member);
            _cluster.Down(address);
        }

        if (waiting && !Timers.IsTimerActive(CheckTimer))
            Timers.StartPeriodicTimer(CheckTimer, Check.Instance, _settings.CheckInterval);
        else if (!waiting)
            Timers.Cancel(CheckTimer);
    }

    /// <summary>Self → self while a candidate waits for <see cref="FastDownSettings.MinUnreachable"/>. No reply.</summary>
    private sealed class Check
    {
        public static readonly Check Instance = new();
    }
}
