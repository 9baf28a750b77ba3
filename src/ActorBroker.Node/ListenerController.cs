using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using ActorBroker.Stomp.Transport;
using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Node;

/// <summary>
/// Opens the STOMP listener while the broker manager runs on this node and closes it when the manager
/// stops (lease lost, hand-over, shutdown), so only the master accepts clients (ActiveMQ semantics).
/// Listener start/stop is asynchronous and piped back, never awaited in a receive. Events that arrive
/// while a start or stop is in flight only update <see cref="_wanted"/>; <see cref="Reconcile"/> acts
/// on it once the operation ends, so the listener always converges on the latest event.
/// </summary>
public sealed class ListenerController : ReceiveActor, IWithTimers
{
    private enum State { Closed, Opening, Open, Closing }

    private const string RetryTimer = "retry-open";
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private readonly StompSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private State _state = State.Closed;
    private IActorRef? _wanted; // the broker manager to serve, or null when none runs here
    private IActorRef? _serving; // the broker manager the open listener serves
    private StompListener? _listener;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(StompSettings settings, ILoggerFactory loggerFactory) =>
        Akka.Actor.Props.Create(() => new ListenerController(settings, loggerFactory));

    public ListenerController(StompSettings settings, ILoggerFactory loggerFactory)
    {
        _settings = settings;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("ActorBroker.Node.Listener");

        Receive<BrokerManagerStarted>(started =>
        {
            _wanted = started.BrokerManager;
            Reconcile();
        });
        Receive<BrokerManagerStopped>(stopped =>
        {
            if (Equals(_wanted, stopped.BrokerManager)) _wanted = null;
            Reconcile();
        });
        Receive<Opened>(opened =>
        {
            _state = State.Open;
            _listener = opened.Listener;
            _serving = opened.BrokerManager;
            _log.LogInformation("MASTER: this node hosts the broker manager; STOMP listening on {Endpoint}", opened.Listener.EndPoint);
            Reconcile();
        });
        Receive<OpenFailed>(failed =>
        {
            _state = State.Closed;
            _log.LogError(failed.Cause, "Could not open the STOMP listener on {Host}:{Port}; retrying in {Delay}", _settings.Host, _settings.Port, RetryDelay);
            Timers.StartSingleTimer(RetryTimer, RetryOpen.Instance, RetryDelay);
        });
        Receive<RetryOpen>(_ => Reconcile());
        Receive<ClosedDone>(_ =>
        {
            _state = State.Closed;
            _log.LogInformation("STANDBY: the broker manager is not running on this node; STOMP listener closed");
            Reconcile();
        });
    }

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe<BrokerManagerStarted>(Self);
        Context.System.EventStream.Subscribe<BrokerManagerStopped>(Self);
    }

    protected override void PostStop()
    {
        // Shutdown: close synchronously, there is no later message to finish it.
        _listener?.StopAsync().Wait(TimeSpan.FromSeconds(5));
    }

    private void Reconcile()
    {
        switch (_state)
        {
            case State.Closed when _wanted is not null && !Timers.IsTimerActive(RetryTimer):
                var manager = _wanted;
                _state = State.Opening;
                StompListener.StartAsync(_settings, Context.System, manager, _loggerFactory)
                    .PipeTo(Self, success: l => new Opened(l, manager), failure: e => new OpenFailed(e));
                break;
            case State.Open when !Equals(_wanted, _serving):
                // Stopped, or replaced by a new incarnation: sessions hold the old manager, so reopen for the new one.
                var listener = _listener!;
                _listener = null;
                _serving = null;
                _state = State.Closing;
                listener.StopAsync().PipeTo(Self, success: () => ClosedDone.Instance, failure: _ => ClosedDone.Instance);
                break;
        }
    }

    private sealed record Opened(StompListener Listener, IActorRef BrokerManager);
    private sealed record OpenFailed(Exception Cause);
    private sealed class ClosedDone { public static readonly ClosedDone Instance = new(); }
    private sealed class RetryOpen { public static readonly RetryOpen Instance = new(); }
}
