using System.Net;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Stomp.Transport;

/// <summary>StompListenerHost → local EventStream. The STOMP listener is accepting clients on <paramref name="EndPoint"/>.</summary>
public sealed record StompListenerOpened(IPEndPoint EndPoint);

/// <summary>StompListenerHost → local EventStream. The listener on <paramref name="EndPoint"/> closed; its clients were aborted.</summary>
public sealed record StompListenerClosed(IPEndPoint EndPoint);

/// <summary>
/// Keeps a <see cref="StompListener"/> open exactly while a broker manager runs on this node
/// (ActiveMQ semantics: a standby refuses clients). It follows <see cref="BrokerManagerStarted"/> and
/// <see cref="BrokerManagerStopped"/> on the local EventStream, so create it before the broker
/// manager singleton can start. Binding and closing are asynchronous and piped back; the wanted
/// state is reconciled after each step, so a stop during a bind closes right after it.
/// </summary>
public sealed class StompListenerHost : ReceiveActor, IWithTimers
{
    private enum HostState
    {
        Closed,
        Opening,
        Open,
        Closing,
    }

    private const string BindRetryTimer = "bind-retry";

    private readonly StompSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;

    private HostState _state = HostState.Closed;
    private IActorRef? _wantedManager;
    private IActorRef? _servedManager;
    private StompListener? _listener;

    public StompListenerHost(StompSettings settings, ILoggerFactory loggerFactory)
    {
        _settings = settings;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("ActorBroker.Stomp");

        Receive<BrokerManagerStarted>(started =>
        {
            _wantedManager = started.BrokerManager;
            Reconcile();
        });
        Receive<BrokerManagerStopped>(stopped =>
        {
            if (Equals(_wantedManager, stopped.BrokerManager))
                _wantedManager = null;
            Reconcile();
        });
        Receive<ListenerOpened>(opened =>
        {
            _listener = opened.Listener;
            _servedManager = opened.BrokerManager;
            GoTo(HostState.Open);
            Reconcile();
        });
        Receive<ListenerOpenFailed>(failed =>
        {
            StompLog.ListenerBindFailed(_logger, _settings.Host, _settings.Port, _settings.BindRetryInterval, failed.Cause);
            GoTo(HostState.Closed);
            Timers.StartSingleTimer(BindRetryTimer, RetryBind.Instance, _settings.BindRetryInterval);
        });
        Receive<RetryBind>(_ => Reconcile());
        Receive<ListenerClosed>(_ =>
        {
            GoTo(HostState.Closed);
            Reconcile();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(StompSettings settings, ILoggerFactory loggerFactory) =>
        Akka.Actor.Props.Create(() => new StompListenerHost(settings, loggerFactory));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(BrokerManagerStarted));
        Context.System.EventStream.Subscribe(Self, typeof(BrokerManagerStopped));
    }

    /// <summary>Closing the node closes the listener too; PostStop cannot await, so the stop runs on and logs its own failure.</summary>
    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        if (_listener is { } listener)
        {
            var logger = _logger;
            listener.StopAsync().ContinueWith(
                t => StompLog.ListenerStopFailed(logger, listener.EndPoint.ToString(), t.Exception!.GetBaseException()),
                TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    /// <summary>Moves one step toward "open for the wanted manager" or "closed"; steps in flight finish first.</summary>
    private void Reconcile()
    {
        switch (_state)
        {
            case HostState.Closed when _wantedManager is { } manager && !Timers.IsTimerActive(BindRetryTimer):
                StompListener.StartAsync(_settings, Context.System, manager, _loggerFactory)
                    .PipeTo(Self, success: listener => new ListenerOpened(listener, manager), failure: cause => new ListenerOpenFailed(cause));
                GoTo(HostState.Opening);
                break;
            case HostState.Open when !Equals(_wantedManager, _servedManager):
                _listener!.StopAsync().PipeTo(Self, success: () => ListenerClosed.Instance, failure: _ => ListenerClosed.Instance);
                GoTo(HostState.Closing);
                break;
        }
    }

    /// <summary>The one place the state changes: logs it, publishes open/closed, owns the retry timer.</summary>
    private void GoTo(HostState next)
    {
        var from = _state;
        if (from == next)
            return;
        StompLog.ListenerHostStateChanged(_logger, from.ToString(), next.ToString(), (_wantedManager ?? _servedManager)?.Path.ToString() ?? "none");
        _state = next;

        if (from == HostState.Closed)
            Timers.Cancel(BindRetryTimer);
        if (next == HostState.Open)
            Context.System.EventStream.Publish(new StompListenerOpened(_listener!.EndPoint));
        if (from == HostState.Closing && next == HostState.Closed)
        {
            Context.System.EventStream.Publish(new StompListenerClosed(_listener!.EndPoint));
            _listener = null;
            _servedManager = null;
        }
    }

    /// <summary>Bind task → host. The listener is accepting for <see cref="BrokerManager"/>.</summary>
    private sealed record ListenerOpened(StompListener Listener, IActorRef BrokerManager);

    /// <summary>Bind task → host. Binding failed; retried after bind-retry-interval while still wanted.</summary>
    private sealed record ListenerOpenFailed(Exception Cause);

    /// <summary>Stop task → host. The listener is closed.</summary>
    private sealed class ListenerClosed
    {
        public static readonly ListenerClosed Instance = new();
    }

    /// <summary>Timer → host. Try binding again.</summary>
    private sealed class RetryBind
    {
        public static readonly RetryBind Instance = new();
    }
}
