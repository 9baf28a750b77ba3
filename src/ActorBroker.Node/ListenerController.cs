using ActorBroker.Core.Protocol;
using ActorBroker.Stomp;
using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Node;

/// <summary>
/// Opens the STOMP listener when the broker manager starts on this node and closes it when the
/// manager stops (lease lost, hand-over, shutdown), so only the master accepts clients.
/// Listener start/stop is asynchronous; results are piped back, never awaited in a receive.
/// States: Closed → Opening → Open → Closing → Closed. A start or stop event that arrives while
/// a transition is in flight is remembered in <see cref="_wantOpen"/> and acted on when it ends.
/// </summary>
public sealed class ListenerController : ReceiveActor, IWithTimers
{
    private const string RetryTimer = "retry-open";
    private readonly StompSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private IActorRef? _brokerManager;
    private StompListener? _listener;
    private bool _wantOpen;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(StompSettings settings, ILoggerFactory loggerFactory) =>
        Akka.Actor.Props.Create(() => new ListenerController(settings, loggerFactory));

    public ListenerController(StompSettings settings, ILoggerFactory loggerFactory)
    {
        _settings = settings;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger("ActorBroker.Node.Listener");
        Closed();
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

    private void Closed()
    {
        Receive<BrokerManagerStarted>(started =>
        {
            _brokerManager = started.BrokerManager;
            _wantOpen = true;
            Open();
        });
        Receive<RetryOpen>(_ => { if (_wantOpen) Open(); });
        Receive<BrokerManagerStopped>(_ => _wantOpen = false);
    }

    private void Open()
    {
        var manager = _brokerManager!;
        StompListener.StartAsync(_settings, Context.System, manager, _loggerFactory, CancellationToken.None)
            .PipeTo(Self, success: l => new Opened(l), failure: e => new OpenFailed(e));
        Become(Opening);
    }

    private void Opening()
    {
        Receive<BrokerManagerStarted>(started => { _brokerManager = started.BrokerManager; _wantOpen = true; });
        Receive<BrokerManagerStopped>(_ => _wantOpen = false);
        Receive<Opened>(opened =>
        {
            _listener = opened.Listener;
            _log.LogInformation("MASTER: this node hosts the broker manager; STOMP listening on {Endpoint}", opened.Listener.EndPoint);
            Become(Listening);
            if (!_wantOpen) Close();
        });
        Receive<OpenFailed>(failed =>
        {
            _log.LogError(failed.Cause, "Could not open the STOMP listener on {Host}:{Port}; retrying in 1 s", _settings.Host, _settings.Port);
            Become(Closed);
            Timers.StartSingleTimer(RetryTimer, RetryOpen.Instance, TimeSpan.FromSeconds(1));
        });
    }

    private void Listening()
    {
        Receive<BrokerManagerStarted>(started => _brokerManager = started.BrokerManager);
        Receive<BrokerManagerStopped>(_ =>
        {
            _wantOpen = false;
            Close();
        });
    }

    private void Close()
    {
        var listener = _listener!;
        _listener = null;
        listener.StopAsync().PipeTo(Self, success: () => ClosedDone.Instance, failure: _ => ClosedDone.Instance);
        Become(Closing);
    }

    private void Closing()
    {
        Receive<BrokerManagerStarted>(started => { _brokerManager = started.BrokerManager; _wantOpen = true; });
        Receive<BrokerManagerStopped>(_ => _wantOpen = false);
        Receive<ClosedDone>(_ =>
        {
            _log.LogInformation("STANDBY: the broker manager stopped on this node; STOMP listener closed");
            Become(Closed);
            if (_wantOpen) Open();
        });
    }

    private sealed record Opened(StompListener Listener);
    private sealed record OpenFailed(Exception Cause);
    private sealed class ClosedDone { public static readonly ClosedDone Instance = new(); }
    private sealed class RetryOpen { public static readonly RetryOpen Instance = new(); }
}
