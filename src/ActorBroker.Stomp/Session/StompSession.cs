using System.Reflection;
using System.Text;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp.Codec;
using ActorBroker.Stomp.Transport;
using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Stomp.Session;

/// <summary>
/// One STOMP client connection's protocol semantics: turns frames into core commands and core
/// replies into frames. It never touches the socket; it writes to <see cref="StompConnection"/>'s
/// outbound channel and closes the connection by completing it. States move only through
/// <see cref="GoTo"/>, which owns timers and logging. Any protocol error ends in ERROR and a close
/// of this connection only; an unexpected exception does the same instead of restarting.
/// </summary>
internal sealed partial class StompSession : ReceiveActor, IWithTimers
{
    private enum SessionState
    {
        Starting,
        AwaitingConnect,
        Connected,
        Disconnecting,
        Closed,
    }

    private const string ConnectTimeoutTimer = "connect-timeout";
    private const string HeartBeatTimer = "heart-beat";
    private const string ConfirmCheckTimer = "confirm-check";

    private static readonly string ServerName = "ActorBroker/" +
        (typeof(StompSession).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");

    private readonly StompSettings _settings;
    private readonly StompConnection _connection;
    private readonly IActorRef _brokerManager;
    private readonly MessageIdGenerator _messageIds;
    private readonly ILogger _logger;

    private readonly Dictionary<long, PendingEntry> _pending = [];
    private readonly Dictionary<string, SubscriptionState> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _unsubscribedBeforeConfirm = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Transaction> _transactions = new(StringComparer.Ordinal);
    private readonly ClientAckTracker _acks = new();

    private SessionState _state = SessionState.Starting;
    private string _version = "1.2";
    private string? _clientId;
    private HeartBeatAgreement _heartBeat = HeartBeatAgreement.Off;
    private long _lastHeartBeatQueuedTicks;
    private long _nextCorrelation;
    private long _nextAckId;
    private int _pendingFrameEffects;
    private string? _disconnectReceipt;

    public StompSession(StompSettings settings, StompConnection connection, IActorRef brokerManager, MessageIdGenerator messageIds, ILogger logger)
    {
        _settings = settings;
        _connection = connection;
        _brokerManager = brokerManager;
        _messageIds = messageIds;
        _logger = logger;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(StompSettings settings, StompConnection connection, IActorRef brokerManager, MessageIdGenerator messageIds, ILogger logger) =>
        Akka.Actor.Props.Create(() => new StompSession(settings, connection, brokerManager, messageIds, logger));

    private bool IsVersion12 => _version == "1.2";

    protected override void PreStart() => GoTo(SessionState.AwaitingConnect);

    protected override void PostStop() => _connection.Close();

    /// <summary>A failure in any handler closes this connection with ERROR; it never restarts the session with lost state.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (StompProtocolException error)
        {
            Fail(error, (message as FrameReceived)?.Frame.GetHeader("receipt"));
            return true;
        }
        catch (Exception error)
        {
            StompLog.SessionFailed(_logger, _connection.ConnectionId, error);
            WriteError("internal server error", null, "The server failed while handling this connection's input.");
            GoTo(SessionState.Closed);
            return true;
        }
    }

    // ---- states --------------------------------------------------------------------------

    private void AwaitingConnect()
    {
        Receive<FrameReceived>(received =>
        {
            var frame = received.Frame;
            if (frame.Command is not (StompCommand.Connect or StompCommand.Stomp))
                throw new StompProtocolException(StompErrorKind.NotConnected, $"frame [{frame.Command.ToWireName()}] before CONNECT");
            HandleConnect(frame);
        });
        Receive<ConnectTimedOut>(_ => throw new StompProtocolException(StompErrorKind.ConnectTimeout,
            $"no CONNECT frame within connect-timeout [{_settings.ConnectTimeout.TotalMilliseconds} ms]"));
        ReceiveTransportEvents();
    }

    private void Connected()
    {
        Receive<FrameReceived>(received => HandleFrame(received.Frame));
        ReceiveBrokerReplies();
        Receive<Deliver>(HandleDeliver);
        Receive<DeliveriesFlushed>(HandleDeliveriesFlushed);
        Receive<HeartBeatTick>(_ => CheckHeartBeats());
        ReceiveTransportEvents();
    }

    /// <summary>After DISCONNECT: no new frames or deliveries, only the confirmations the receipt waits for.</summary>
    private void Disconnecting()
    {
        Receive<FrameReceived>(received => ReleasePermitIfSend(received.Frame));
        ReceiveBrokerReplies();
        Receive<Deliver>(_ => { });
        Receive<DeliveriesFlushed>(HandleDeliveriesFlushed);
        Receive<HeartBeatTick>(_ => CheckHeartBeats());
        ReceiveTransportEvents();
    }

    private void Closed() => ReceiveAny(_ => { });

    private void ReceiveBrokerReplies()
    {
        Receive<SendConfirmed>(confirmed => Confirm(confirmed.CorrelationId));
        Receive<AckConfirmed>(confirmed => Confirm(confirmed.CorrelationId));
        Receive<SendRejected>(rejected =>
        {
            _pending.Remove(rejected.CorrelationId, out var entry);
            if (entry.HoldsSendPermit)
                _connection.SendPermits.Release();
            Fail(new StompProtocolException(StompErrorKind.BrokerRejected, $"message rejected by the broker: {rejected.Reason}"), entry.Operation?.ReceiptId);
        });
        Receive<SubscribeConfirmed>(HandleSubscribeConfirmed);
        Receive<Terminated>(terminated =>
        {
            // A destination stops when its journal fails; its subscriptions and unconfirmed acks are gone with it.
            // The client must know: ERROR and close, it reconnects and resubscribes (unacked messages are redelivered).
            var lost = _subscriptions.Values.FirstOrDefault(sub => Equals(sub.DestinationActor, terminated.ActorRef));
            if (lost is not null)
                Fail(new StompProtocolException(StompErrorKind.SubscriptionLost,
                    $"subscription [{lost.Id}] on [{lost.Destination}] lost: the destination stopped (store failure or fail-over); reconnect and subscribe again"), null);
        });
        Receive<ConfirmCheck>(_ => CheckConfirmTimeout());
        Receive<SubscribeRejected>(rejected =>
        {
            string? receipt = null;
            if (_subscriptions.Remove(rejected.SubscriptionId, out var subscription) && _pending.Remove(subscription.ConfirmCorrelation, out var entry))
                receipt = entry.Operation?.ReceiptId;
            Fail(new StompProtocolException(StompErrorKind.BrokerRejected, $"subscription [{rejected.SubscriptionId}] refused by the broker: {rejected.Reason}"), receipt);
        });
    }

    private void ReceiveTransportEvents()
    {
        Receive<TransportProtocolError>(error => Fail(error.Error, null));
        Receive<TransportClosed>(_ => GoTo(SessionState.Closed));
    }

    /// <summary>The one place states change: logs the transition, starts and cancels timers, closes the connection.</summary>
    private void GoTo(SessionState next)
    {
        var from = _state;
        if (from == next || from == SessionState.Closed)
            return;
        StompLog.StateChanged(_logger, _connection.ConnectionId, from.ToString(), next.ToString());
        _state = next;

        if (from == SessionState.AwaitingConnect)
            Timers.Cancel(ConnectTimeoutTimer);

        switch (next)
        {
            case SessionState.AwaitingConnect:
                Timers.StartSingleTimer(ConnectTimeoutTimer, ConnectTimedOut.Instance, _settings.ConnectTimeout);
                Become(AwaitingConnect);
                break;
            case SessionState.Connected:
                Timers.StartPeriodicTimer(ConfirmCheckTimer, ConfirmCheck.Instance, _settings.ConfirmTimeout / 4);
                if (HeartBeatCheckInterval() is { } interval)
                    Timers.StartPeriodicTimer(HeartBeatTimer, HeartBeatTick.Instance, interval);
                Become(Connected);
                break;
            case SessionState.Disconnecting:
                _transactions.Clear();
                Become(Disconnecting);
                break;
            case SessionState.Closed:
                Timers.CancelAll();
                _connection.Close();
                Become(Closed);
                Context.Stop(Self);
                break;
        }
    }

    // ---- errors, receipts, confirmations ----------------------------------------------------

    /// <summary>Protocol error: log the cause, send ERROR (with receipt-id when the offending frame asked for a receipt), close.</summary>
    private void Fail(StompProtocolException error, string? receiptId, params KeyValuePair<string, string>[] extraHeaders)
    {
        if (_state == SessionState.Closed)
            return;
        StompLog.ProtocolError(_logger, _connection.ConnectionId, error.Kind, error.Message);
        WriteError(error.Message, receiptId, $"{error.Kind}: {error.Message}", extraHeaders);
        GoTo(SessionState.Closed);
    }

    private void WriteError(string message, string? receiptId, string detail, params KeyValuePair<string, string>[] extraHeaders)
    {
        var headers = new List<KeyValuePair<string, string>> { new("message", message) };
        if (receiptId is not null)
            headers.Add(new("receipt-id", receiptId));
        headers.AddRange(extraHeaders);
        headers.Add(new("content-type", "text/plain;charset=utf-8"));
        _connection.TryWrite(new StompFrame(StompCommand.Error, headers, Encoding.UTF8.GetBytes(detail)));
    }

    private void WriteReceipt(string? receiptId)
    {
        if (receiptId is not null)
            _connection.TryWrite(new StompFrame(StompCommand.Receipt, [new("receipt-id", receiptId)]));
    }

    /// <summary>Registers one core reply the operation waits for; returns its correlation id.</summary>
    private long Expect(PendingOperation operation, bool holdsSendPermit = false)
    {
        var correlationId = ++_nextCorrelation;
        operation.Remaining++;
        _pending[correlationId] = new PendingEntry(operation, holdsSendPermit, Environment.TickCount64);
        return correlationId;
    }

    /// <summary>Called once every <see cref="Expect"/> of an operation is registered and its commands sent.</summary>
    private void Activate(PendingOperation operation)
    {
        if (operation.Remaining == 0)
            WriteReceipt(operation.ReceiptId);
        else if (operation.FromFrame)
            _pendingFrameEffects++;
    }

    private void Confirm(long correlationId)
    {
        if (!_pending.Remove(correlationId, out var entry))
            return;
        if (entry.HoldsSendPermit)
            _connection.SendPermits.Release();

        var operation = entry.Operation!;
        if (--operation.Remaining > 0)
            return;
        if (operation.FromFrame)
            _pendingFrameEffects--;
        WriteReceipt(operation.ReceiptId);
        CompleteDisconnectIfDone();
    }

    /// <summary>DISCONNECT's receipt promises every earlier frame's effect is durable: send it, then close.</summary>
    private void CompleteDisconnectIfDone()
    {
        if (_state != SessionState.Disconnecting || _pendingFrameEffects > 0)
            return;
        WriteReceipt(_disconnectReceipt);
        GoTo(SessionState.Closed);
    }

    // ---- heart-beats -----------------------------------------------------------------------

    private TimeSpan? HeartBeatCheckInterval()
    {
        var candidates = new[] { _heartBeat.ServerSendInterval / 2, _heartBeat.ClientSilenceTimeout / 4 }.Where(t => t > TimeSpan.Zero).ToArray();
        if (candidates.Length == 0)
            return null;
        var interval = candidates.Min();
        return interval < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : interval;
    }

    private void CheckHeartBeats()
    {
        var now = Environment.TickCount64;
        var silenceTimeout = (long)_heartBeat.ClientSilenceTimeout.TotalMilliseconds;
        if (silenceTimeout > 0 && !_connection.ReadingPaused && now - _connection.LastReadTicks > silenceTimeout)
        {
            throw new StompProtocolException(StompErrorKind.HeartBeatTimeout,
                $"no data from the client for more than [{silenceTimeout}] ms (heart-beat {_heartBeat.ClientSendInterval.TotalMilliseconds} ms x grace-factor {_settings.HeartBeatGraceFactor})");
        }

        // Send when idle for half the interval, so the client never waits the full interval.
        var sendInterval = (long)_heartBeat.ServerSendInterval.TotalMilliseconds;
        if (sendInterval > 0 && now - Math.Max(_connection.LastWriteTicks, _lastHeartBeatQueuedTicks) >= sendInterval / 2)
        {
            _connection.TryWriteHeartBeat();
            _lastHeartBeatQueuedTicks = now;
        }
    }

    /// <summary>
    /// No confirmation may be owed longer than confirm-timeout: a destination whose store stalls or that died between
    /// routing and delivery must turn into an ERROR for the client, never into a receipt that silently never comes.
    /// </summary>
    private void CheckConfirmTimeout()
    {
        if (_pending.Count == 0)
            return;
        var oldest = _pending.Values.Min(entry => entry.SinceTicks);
        var waited = TimeSpan.FromMilliseconds(Environment.TickCount64 - oldest);
        if (waited > _settings.ConfirmTimeout)
            Fail(new StompProtocolException(StompErrorKind.BrokerTimeout,
                $"the broker did not confirm within confirm-timeout [{_settings.ConfirmTimeout.TotalMilliseconds} ms]; the store may be unavailable"), null);
    }

    // ---- state data ---------------------------------------------------------------------------

    /// <summary>An effect the client may be owed a RECEIPT for, complete when all its core replies arrived.</summary>
    private sealed class PendingOperation(string? receiptId, bool fromFrame)
    {
        public string? ReceiptId { get; } = receiptId;

        /// <summary>True for effects of client frames (DISCONNECT waits for them); false for auto-acks.</summary>
        public bool FromFrame { get; } = fromFrame;

        public int Remaining { get; set; }
    }

    private readonly record struct PendingEntry(PendingOperation? Operation, bool HoldsSendPermit, long SinceTicks);

    private sealed class SubscriptionState(string id, Destination destination, AckMode mode, long confirmCorrelation)
    {
        public string Id { get; } = id;
        public Destination Destination { get; } = destination;
        public AckMode Mode { get; } = mode;
        public long ConfirmCorrelation { get; } = confirmCorrelation;

        /// <summary>The destination actor, known from SubscribeConfirmed's sender; Ack/Nack/Unsubscribe go there.</summary>
        public IActorRef? DestinationActor { get; set; }
    }

    private sealed record BufferedAck(string SubscriptionId, string AckId, bool IsNack);

    private sealed class Transaction
    {
        public List<BrokerMessage> Sends { get; } = [];
        public List<BufferedAck> Acks { get; } = [];
    }

    /// <summary>Timer → session. No CONNECT arrived within connect-timeout.</summary>
    private sealed class ConnectTimedOut
    {
        public static readonly ConnectTimedOut Instance = new();
    }

    /// <summary>Periodic timer → session. Fail the connection when a broker confirmation is overdue.</summary>
    private sealed class ConfirmCheck
    {
        public static readonly ConfirmCheck Instance = new();
    }

    /// <summary>Periodic timer → session. Check client silence and send a heart-beat when idle.</summary>
    private sealed class HeartBeatTick
    {
        public static readonly HeartBeatTick Instance = new();
    }
}
