using ActorBroker.Stomp.Codec;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Stomp;

/// <summary>Every log line of the STOMP layer, with stable event ids (1xx listener, 2xx connection, 3xx session).</summary>
internal static partial class StompLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "STOMP listener started on {EndPoint}")]
    public static partial void ListenerStarted(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "STOMP listener on {EndPoint} stopped, live connections aborted")]
    public static partial void ListenerStopped(ILogger logger, string endPoint);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "STOMP listener could not bind {Host}:{Port}; retrying in {RetryInterval}")]
    public static partial void ListenerBindFailed(ILogger logger, string host, int port, TimeSpan retryInterval, Exception exception);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "STOMP listener host state change [{From} -> {To}], broker manager {BrokerManager}")]
    public static partial void ListenerHostStateChanged(ILogger logger, string from, string to, string brokerManager);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "STOMP listener on {EndPoint} failed to stop cleanly")]
    public static partial void ListenerStopFailed(ILogger logger, string endPoint, Exception exception);

    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "STOMP connection {ConnectionId} opened from {RemoteEndPoint}")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, string remoteEndPoint);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "STOMP connection {ConnectionId} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "STOMP connection {ConnectionId} transport failure")]
    public static partial void TransportFailure(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "STOMP connection {ConnectionId}: session did not close the connection within {Timeout}, closing it")]
    public static partial void CloseTimedOut(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "STOMP session {ConnectionId} connected: version {Version}, heart-beats {HeartBeat}, client-id {ClientId}")]
    public static partial void SessionConnected(ILogger logger, string connectionId, string version, HeartBeatDescription heartBeat, string? clientId);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "STOMP session {ConnectionId} protocol error {Kind}: {Cause}")]
    public static partial void ProtocolError(ILogger logger, string connectionId, StompErrorKind kind, string cause);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "STOMP session {ConnectionId} state change [{From} -> {To}]")]
    public static partial void StateChanged(ILogger logger, string connectionId, string from, string to);

    [LoggerMessage(EventId = 303, Level = LogLevel.Error, Message = "STOMP session {ConnectionId} failed unexpectedly; closing the connection")]
    public static partial void SessionFailed(ILogger logger, string connectionId, Exception exception);
}

/// <summary>Log-friendly heart-beat agreement.</summary>
internal readonly record struct HeartBeatDescription(TimeSpan ServerSends, TimeSpan ClientSends)
{
    public override string ToString() => $"server every {ServerSends.TotalMilliseconds} ms, client every {ClientSends.TotalMilliseconds} ms";
}
