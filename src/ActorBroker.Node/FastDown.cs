using System.Diagnostics;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace ActorBroker.Node;

/// <summary>
/// Downs a member as soon as it is unreachable (failure detector) AND its process is evidently gone: its remoting port
/// refuses TCP connections. That is the signature of a dead process, not of a partition, so failover is bounded by
/// failure detection instead of the split-brain resolver, whose decision tick is hard-coded to 1 s in Akka 1.5.73 and
/// which waits <c>stable-after</c> on top.
/// </summary>
/// <remarks>
/// <para>Safety does not rest on this actor: the broker manager runs only under the lease, and a holder gives the lease
/// up on its own before anyone else may take it. Downing a member that is in fact alive only removes it from the
/// cluster; it cannot make two broker managers run at once.</para>
/// <para>A partition (silent network, the throttler's blackhole, a dead machine) leaves the port either accepting or
/// silent, never refusing: the split-brain resolver decides those, as before. Why two signals: the failure detector
/// alone flaps on a starved machine; a refused connection alone happens while a node restarts on the same port.</para>
/// <para>A dropped remoting link is only a reason to probe at once, not proof: a live member drops the link too when it
/// has removed and quarantined this node (a frozen node that wakes after the survivor downed it), and downing that
/// live member from here would cut the survivor out of this node's view.</para>
/// <para>The probe is an asynchronous connect whose outcome is piped back; nothing blocks the actor.</para>
/// </remarks>
public sealed class FastDown : ReceiveActor, IWithTimers
{
    private const string ProbeTimer = "fast-down-probe";
    private readonly FastDownSettings _settings;
    private readonly Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, (UniqueAddress Member, long Since)> _unreachable = new();
    private readonly HashSet<Address> _refused = new();
    private readonly HashSet<Address> _probing = new();
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
            _refused.Remove(e.Member.Address);
            _downed.Remove(e.Member.UniqueAddress);
            Evaluate();
        });
        // A dropped link makes Evaluate probe an unreachable member now rather than at the next probe tick.
        Receive<DisassociatedEvent>(_ => Evaluate());
        Receive<AssociationErrorEvent>(_ => Evaluate());
        Receive<AssociatedEvent>(e => _refused.Remove(e.RemoteAddress));
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
            typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.MemberRemoved));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationEvent));
        Context.System.EventStream.Subscribe(Self, typeof(AssociationErrorEvent));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    /// <summary>
    /// The one place that decides: downs every unreachable member whose process is gone, probes those not known yet,
    /// and keeps the re-probe timer running while any unreachable member is left undecided.
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

            _log.Info("Fast-down: downing [{0}]: unreachable for {1} ms and its process is gone (remoting port refuses connections)",
                member, (long)unreachableFor.TotalMilliseconds);
            _downed.Add(member);
            _cluster.Down(address);
        }

        if (undecided && !Timers.IsTimerActive(ProbeTimer))
            Timers.StartPeriodicTimer(ProbeTimer, ProbeAgain.Instance, _settings.ProbeInterval);
        else if (!undecided)
            Timers.Cancel(ProbeTimer);
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
