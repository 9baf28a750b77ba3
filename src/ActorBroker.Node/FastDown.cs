using System.Diagnostics;
using System.Net.Sockets;
using ActorBroker.Coordination;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace ActorBroker.Node;

/// <summary>
/// Downs a member as soon as its process is evidently gone: its remoting port refuses TCP connections (nothing listens
/// there any more, which a frozen or partitioned process never shows: its kernel still accepts, or the network stays
/// silent). Failover is then bounded by how fast a dead process is noticed instead of the split-brain resolver, whose
/// decision tick is hard-coded to 1 s in Akka 1.5.73 and which waits <c>stable-after</c> on top. The port is probed
/// when the member turns unreachable (failure detector) and, without waiting for that, as soon as its remoting link
/// drops: a kill -9 is acted on within a probe round trip of the dropped link.
/// </summary>
/// <remarks>
/// <para>Safety does not rest on this actor: the broker manager runs only under the lease, and a holder gives the lease
/// up on its own before anyone else may take it. Downing a member that is in fact alive only removes it from the
/// cluster; it cannot make two broker managers run at once.</para>
/// <para>A partition (silent network, the throttler's blackhole, a dead machine) leaves the port either accepting or
/// silent, never refusing: the split-brain resolver decides those, as before. A dropped remoting link is only a reason
/// to probe at once, never proof: a live member drops the link too when it has removed and quarantined this node (a
/// frozen node that wakes after the survivor downed it), and downing that live member from here would cut the survivor
/// out of this node's view. A refused connection is proof because a member's address is only reused after the member
/// was removed from the cluster.</para>
/// <para>A member downed on that proof is recorded in <see cref="LeaseHolderObituaries"/>, so its lease records are taken
/// over without waiting for their TTL.</para>
/// <para>The probe is an asynchronous connect whose outcome is piped back; nothing blocks the actor.</para>
/// </remarks>
public sealed class FastDown : ReceiveActor, IWithTimers
{
    private const string ProbeTimer = "fast-down-probe";
    private readonly FastDownSettings _settings;
    private readonly Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, (UniqueAddress Member, long Since)> _unreachable = new();
    private readonly Dictionary<Address, long> _linkDroppedAt = new(); // reachable members whose link dropped, being probed
    private readonly HashSet<Address> _refused = new();
    private readonly HashSet<Address> _probing = new();
    private readonly HashSet<UniqueAddress> _downed = new();
    private readonly LeaseHolderObituaries _obituaries = LeaseHolderObituaries.Get(Context.System);

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
            _linkDroppedAt.Remove(e.Member.Address);
            _refused.Remove(e.Member.Address);
            _downed.Remove(e.Member.UniqueAddress);
            Evaluate();
        });
        // A process answers at that address again: it is not the dead holder of any lease record any more.
        Receive<ClusterEvent.MemberJoined>(e => _obituaries.Forget(e.Member.Address.HostPort()));
        Receive<ClusterEvent.MemberUp>(e => _obituaries.Forget(e.Member.Address.HostPort()));
        Receive<DisassociatedEvent>(e => LinkDropped(e.RemoteAddress));
        Receive<AssociationErrorEvent>(e => LinkDropped(e.RemoteAddress));
        Receive<AssociatedEvent>(e =>
        {
            _linkDroppedAt.Remove(e.RemoteAddress);
            _refused.Remove(e.RemoteAddress);
        });
        Receive<ProbeResult>(result =>
        {
            _probing.Remove(result.Address);
            if (result.Refused) _refused.Add(result.Address);
            Evaluate();
        });
        Receive<ProbeAgain>(_ => Evaluate());
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(FastDownSettings settings) => Akka.Actor.Props.Create(() => new FastDown(settings));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberJoined), typeof(ClusterEvent.MemberUp));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>A dropped link makes Evaluate probe the member now rather than after the failure detector or the next tick.</summary>
    private void LinkDropped(Address remote)
    {
        if (!_unreachable.ContainsKey(remote) && IsMember(remote)) _linkDroppedAt.TryAdd(remote, Stopwatch.GetTimestamp());
        Evaluate();
    }

    private bool IsMember(Address address) =>
        _cluster.State.Members.Any(m => m.Address == address && m.Status is MemberStatus.Up or MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Leaving);

    /// <summary>
    /// The one place that decides: downs every member whose process is gone, probes those not known yet, and keeps the
    /// re-probe timer running while any suspect is left undecided.
    /// </summary>
    private void Evaluate()
    {
        var undecided = false;
        foreach (var (address, (member, since)) in _unreachable)
        {
            if (address == _cluster.SelfAddress || _downed.Contains(member))
                continue;
            if (!_refused.Contains(address))
            {
                undecided = true;
                Probe(address);
                continue;
            }

            var unreachableFor = Stopwatch.GetElapsedTime(since);
            if (unreachableFor < _settings.MinUnreachable)
            {
                undecided = true;
                continue;
            }

            Down(member, $"unreachable for {(long)unreachableFor.TotalMilliseconds} ms and its process is gone (remoting port refuses connections)");
        }

        // Reachable members whose link dropped: a refused port is enough, without waiting for the failure detector.
        foreach (var (address, droppedAt) in _linkDroppedAt.ToList())
        {
            var member = _cluster.State.Members.FirstOrDefault(m => m.Address == address);
            if (member is null || _unreachable.ContainsKey(address) || _downed.Contains(member.UniqueAddress)
                || Stopwatch.GetElapsedTime(droppedAt) > _settings.LinkDropProbeWindow)
            {
                _linkDroppedAt.Remove(address); // gone, handled above, or alive after all (port kept accepting)
                continue;
            }

            if (_refused.Contains(address) && _settings.MinUnreachable == TimeSpan.Zero)
            {
                _linkDroppedAt.Remove(address);
                Down(member.UniqueAddress, $"its remoting link dropped {(long)Stopwatch.GetElapsedTime(droppedAt).TotalMilliseconds} ms ago and its remoting port refuses connections (process gone)");
                continue;
            }

            undecided = true;
            Probe(address);
        }

        if (undecided && !Timers.IsTimerActive(ProbeTimer))
            Timers.StartPeriodicTimer(ProbeTimer, ProbeAgain.Instance, _settings.ProbeInterval);
        else if (!undecided)
            Timers.Cancel(ProbeTimer);
    }

    /// <summary>
    /// Downs a member proven gone (its port refused), records it so its lease records need not run out, and quarantines
    /// its incarnation: Akka removes a Down member only once it is unreachable or terminated, and its failure detector
    /// would take ~0.6 s more to say so; a quarantine marks it terminated at once ("due to quarantine"), so the singleton
    /// moves at the next leader action. A dead process loses nothing by it: its incarnation can never come back.
    /// </summary>
    private void Down(UniqueAddress member, string why)
    {
        _log.Info("Fast-down: downing [{0}]: {1}", member, why);
        _obituaries.Record(member.Address.HostPort());
        _downed.Add(member);
        _cluster.Down(member.Address);
        if (Context.System is ExtendedActorSystem { Provider: IRemoteActorRefProvider remoting })
            remoting.Quarantine(member.Address, member.Uid);
    }

    private void Probe(Address address)
    {
        if (address.Host is not { } host || address.Port is not { } port || !_probing.Add(address))
            return;
        ConnectAsync(host, port, _settings.ProbeTimeout)
            .ContinueWith(t => new ProbeResult(address, t.Result), TaskContinuationOptions.ExecuteSynchronously)
            .PipeTo(Self);
    }

    /// <summary>True only when the host actively refused the connection; a timeout or success means "maybe alive".</summary>
    private static async Task<bool> ConnectAsync(string host, int port, TimeSpan timeout)
    {
        using var client = new TcpClient();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await client.ConnectAsync(host, port, cancel.Token);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>Probe task → self: whether the member's remoting port refused a connection. No reply.</summary>
    private sealed record ProbeResult(Address Address, bool Refused);

    /// <summary>Self → self every probe-interval while an unreachable member is undecided. No reply.</summary>
    private sealed class ProbeAgain
    {
        public static readonly ProbeAgain Instance = new();
    }
}
