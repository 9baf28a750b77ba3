using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;

namespace ActorBroker.Node;

/// <summary>
/// Downs this node when it wakes from a pause long enough that the other members may have downed and removed it
/// meanwhile: SIGSTOP/SIGCONT, a suspended VM, a very long GC pause. Such a node cannot learn that it was removed: the
/// survivors quarantined it and no longer gossip with it, so it would live on in a cluster view of its own. Worse, a
/// woken master's singleton manager answers the hand-over request its successor sent during the pause and then sits
/// in its terminal state for good, so the node could never become master again. Downing itself ends the process
/// (coordinated shutdown); restarted, it joins the survivors as a standby.
/// </summary>
/// <remarks>
/// <para>A pause shorter than the split-brain resolver's <c>stable-after</c> cannot have been acted upon: the resolver
/// decides only after the member stayed unreachable that long, and fast-down never downs a live process. So
/// <c>max-pause</c> defaults to <c>stable-after</c>. A node alone in its cluster never downs itself.</para>
/// <para>The pause is measured on the monotonic clock between ticks of a timer; after SIGCONT the overdue tick runs at
/// once, before the resolver (which waits <c>stable-after</c> on the woken side too) can take a decision.</para>
/// </remarks>
public sealed class SelfDownAfterPause : ReceiveActor, IWithTimers
{
    private readonly SelfDownAfterPauseSettings _settings;
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _lastTick = Stopwatch.GetTimestamp();
    private bool _downed;

    public SelfDownAfterPause(SelfDownAfterPauseSettings settings)
    {
        _settings = settings;
        Receive<Tick>(_ => OnTick());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(SelfDownAfterPauseSettings settings) => Akka.Actor.Props.Create(() => new SelfDownAfterPause(settings));

    protected override void PreStart()
    {
        _lastTick = Stopwatch.GetTimestamp();
        Timers.StartPeriodicTimer("tick", Tick.Instance, _settings.CheckInterval);
    }

    private void OnTick()
    {
        var now = Stopwatch.GetTimestamp();
        var paused = Stopwatch.GetElapsedTime(_lastTick, now);
        _lastTick = now;
        if (_downed || paused <= _settings.MaxPause) return;

        var self = _cluster.SelfMember;
        var others = _cluster.State.Members.Count(m => !m.UniqueAddress.Equals(self.UniqueAddress) && m.Status != MemberStatus.Down);
        if (self.Status != MemberStatus.Up || others == 0)
        {
            _log.Warning("Woke from a pause of {0} ms (max-pause {1} ms) as [{2}] with {3} other members: nobody could have downed this node, carrying on",
                (long)paused.TotalMilliseconds, (long)_settings.MaxPause.TotalMilliseconds, self.Status, others);
            return;
        }

        _downed = true;
        _log.Warning("Woke from a pause of {0} ms, longer than max-pause {1} ms (SIGSTOP, suspended VM, long GC?): the other " +
                     "members may have downed and removed this node meanwhile, so it downs itself; restart it to rejoin as a standby",
            (long)paused.TotalMilliseconds, (long)_settings.MaxPause.TotalMilliseconds);
        _cluster.Down(_cluster.SelfAddress);
    }

    /// <summary>Timer → self every check-interval. No reply.</summary>
    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }
}

/// <summary>Settings of <see cref="SelfDownAfterPause"/> (<c>actorbroker.node.self-down-after-pause</c>), read once and validated.</summary>
/// <param name="Enabled">Whether the node runs the actor at all.</param>
/// <param name="MaxPause">Longest pause after which the node carries on; a longer one makes it down itself.</param>
/// <param name="CheckInterval">Timer period; a pause is the time between two ticks.</param>
public sealed record SelfDownAfterPauseSettings(bool Enabled, TimeSpan MaxPause, TimeSpan CheckInterval)
{
    public const string Path = "actorbroker.node.self-down-after-pause";

    public static SelfDownAfterPauseSettings Create(Config config)
    {
        var section = config.GetConfig(Path)
            ?? throw new ConfigurationException($"missing configuration section [{Path}]");
        var maxPause = section.GetTimeSpan("max-pause", TimeSpan.FromSeconds(2));
        var checkInterval = section.GetTimeSpan("check-interval", TimeSpan.FromMilliseconds(100));
        if (checkInterval <= TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.check-interval] must be positive, was [{checkInterval}]");
        if (maxPause <= checkInterval)
            throw new ConfigurationException($"[{Path}.max-pause] must exceed check-interval ({checkInterval}), was [{maxPause}]");
        return new SelfDownAfterPauseSettings(section.GetBoolean("enabled", false), maxPause, checkInterval);
    }
}
