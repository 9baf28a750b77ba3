using System.Buffers;
using System.IO.Pipelines;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp.Codec;
using ActorBroker.Stomp.Session;
using Akka.Actor;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Stomp.Transport;

/// <summary>
/// The transport of one STOMP connection: a read loop that frames bytes into <see cref="StompFrame"/>s
/// for the session actor, and a writer loop that drains the session's outbound channel into the
/// socket. Protocol semantics live in the session; this class only moves bytes, enforces
/// max-frame-size and the in-flight SEND limit, and records activity for heart-beating.
/// </summary>
public sealed class StompConnectionHandler : ConnectionHandler
{
    /// <summary>Flush at least this often while the channel still has frames, so one burst cannot buffer without bound.</summary>
    private const long FlushThresholdBytes = 64 * 1024;

    private readonly StompSettings _settings;
    private readonly ActorSystem _system;
    private readonly IActorRef _brokerManager;
    private readonly MessageIdGenerator _messageIds;
    private readonly ILogger _logger;
    private long _connectionCount;

    public StompConnectionHandler(StompSettings settings, ActorSystem system, IActorRef brokerManager, MessageIdGenerator messageIds, ILoggerFactory loggerFactory)
    {
        _settings = settings;
        _system = system;
        _brokerManager = brokerManager;
        _messageIds = messageIds;
        _logger = loggerFactory.CreateLogger("ActorBroker.Stomp");
    }

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var stomp = new StompConnection(connection.ConnectionId, connection.RemoteEndPoint?.ToString() ?? "unknown", _settings.MaxInflightSends);
        StompLog.ConnectionOpened(_logger, stomp.ConnectionId, stomp.RemoteEndPoint);

        var session = _system.ActorOf(StompSession.Props(_settings, stomp, _brokerManager, _messageIds, _logger),
            $"stomp-session-{Interlocked.Increment(ref _connectionCount)}-{Uri.EscapeDataString(connection.ConnectionId)}");
        using var stopReading = new CancellationTokenSource();
        var writer = WriteLoopAsync(connection, stomp, session, stopReading);

        var reason = await ReadLoopAsync(connection, stomp, session, stopReading.Token);
        session.Tell(new TransportClosed(reason));

        // The session normally completes the channel itself (after ERROR or on TransportClosed);
        // if it cannot (actor system gone, client not reading), close anyway and abort if the write is stuck.
        if (await Task.WhenAny(writer, Task.Delay(_settings.CloseTimeout)) != writer)
        {
            StompLog.CloseTimedOut(_logger, stomp.ConnectionId, _settings.CloseTimeout);
            stomp.Close();
            connection.Abort(new ConnectionAbortedException("STOMP session did not close in time"));
        }

        await writer;
        StompLog.ConnectionClosed(_logger, stomp.ConnectionId, reason);
    }

    /// <summary>Parses complete frames from a window of at most max-frame-size; always AdvanceTo in finally.</summary>
    private async Task<string> ReadLoopAsync(ConnectionContext connection, StompConnection stomp, IActorRef session, CancellationToken stopReading)
    {
        var input = connection.Transport.Input;
        var limits = _settings.ParserLimits;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(stopReading);
                var buffer = result.Buffer;
                if (result.IsCanceled)
                    return "closed by the server";
                if (!buffer.IsEmpty)
                    stomp.MarkRead();

                try
                {
                    while (true)
                    {
                        var overLength = buffer.Length > limits.MaxFrameSize;
                        var window = overLength ? buffer.Slice(0, limits.MaxFrameSize) : buffer;
                        var windowLength = window.Length;
                        if (StompFrameParser.TryParseFrame(ref window, limits, out var frame))
                        {
                            buffer = buffer.Slice(window.Start);
                            if (frame.Command == StompCommand.Send && !stomp.SendPermits.Wait(0))
                            {
                                // Back-pressure: stop reading while too many SENDs are unconfirmed.
                                stomp.PauseReading();
                                await stomp.SendPermits.WaitAsync(stopReading);
                                stomp.ResumeReading();
                            }

                            session.Tell(new FrameReceived(frame));
                            continue;
                        }

                        var skippedHeartBeats = window.Length < windowLength;
                        buffer = buffer.Slice(window.Start);
                        if (overLength && !skippedHeartBeats)
                            throw new StompProtocolException(StompErrorKind.FrameTooLarge, $"frame larger than max-frame-size [{limits.MaxFrameSize}] bytes");
                        if (!overLength)
                            break;
                    }

                    if (result.IsCompleted)
                    {
                        return buffer.IsEmpty
                            ? "closed by the client"
                            : $"closed by the client in the middle of a frame ({buffer.Length} bytes unparsed)";
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (StompProtocolException error)
        {
            session.Tell(new TransportProtocolError(error));
            return $"protocol error {error.Kind}";
        }
        catch (OperationCanceledException)
        {
            return "closed by the server";
        }
        catch (Exception error) when (error is ConnectionResetException or ConnectionAbortedException or IOException)
        {
            return $"connection lost: {error.Message}";
        }
        catch (Exception error)
        {
            StompLog.TransportFailure(_logger, stomp.ConnectionId, error);
            return $"transport failure: {error.GetType().Name}";
        }
    }

    /// <summary>Drains the outbound channel; flushes when it is momentarily empty (natural batching) and reports flushed auto-ack deliveries.</summary>
    private async Task WriteLoopAsync(ConnectionContext connection, StompConnection stomp, IActorRef session, CancellationTokenSource stopReading)
    {
        var output = connection.Transport.Output;
        var reader = stomp.Outbound.Reader;
        var flushed = new List<FlushedDelivery>();
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var item))
                {
                    if (item.Frame is null)
                        StompFrameWriter.WriteHeartBeat(output);
                    else
                        StompFrameWriter.Write(output, item.Frame);
                    if (item.AutoAck is { } delivery)
                        flushed.Add(delivery);
                    if (output.CanGetUnflushedBytes && output.UnflushedBytes >= FlushThresholdBytes)
                        break;
                }

                var result = await output.FlushAsync();
                stomp.MarkWritten();
                if (flushed.Count > 0)
                {
                    session.Tell(new DeliveriesFlushed(flushed.ToArray()));
                    flushed.Clear();
                }

                if (result.IsCompleted || result.IsCanceled)
                    break;
            }
        }
        catch (Exception error) when (error is ConnectionResetException or ConnectionAbortedException or IOException or ObjectDisposedException)
        {
            // The client is gone; the read loop sees it too and reports the close.
        }
        catch (Exception error)
        {
            StompLog.TransportFailure(_logger, stomp.ConnectionId, error);
        }
        finally
        {
            stomp.Close();
            await CompleteQuietly(output);
            await stopReading.CancelAsync();
            try
            {
                connection.Transport.Input.CancelPendingRead();
            }
            catch (ObjectDisposedException)
            {
                // The transport is already gone; nothing left to stop.
            }
        }
    }

    private static async Task CompleteQuietly(PipeWriter output)
    {
        try
        {
            await output.CompleteAsync();
        }
        catch (Exception)
        {
            // Completing a broken pipe can throw; the connection is closing either way.
        }
    }
}
