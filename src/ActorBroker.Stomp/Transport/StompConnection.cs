using System.Threading.Channels;
using ActorBroker.Stomp.Codec;
using Akka.Actor;

namespace ActorBroker.Stomp.Transport;

/// <summary>
/// A MESSAGE frame's delivery, to be acknowledged to the core once the frame reached the socket
/// (auto-ack subscriptions).
/// </summary>
public sealed record FlushedDelivery(IActorRef Destination, string SubscriptionId, long DeliveryTag);

/// <summary>One item of a connection's outbound channel: a frame (null = a heart-beat EOL) and, for auto-ack MESSAGEs, what to ack once flushed.</summary>
public readonly record struct OutboundFrame(StompFrame? Frame, FlushedDelivery? AutoAck = null)
{
    public static OutboundFrame HeartBeat => default;
}

/// <summary>
/// What a session actor may touch of its TCP connection: the outbound channel (completing it closes
/// the connection once everything queued is written), the SEND permits that throttle the read loop,
/// and read/write activity times for heart-beating. Thread-safe; written by the transport loops,
/// read by the session.
/// </summary>
public sealed class StompConnection
{
    private long _lastReadTicks;
    private long _lastWriteTicks;
    private volatile bool _readingPaused;

    public StompConnection(string connectionId, string remoteEndPoint, int maxInflightSends)
    {
        ConnectionId = connectionId;
        RemoteEndPoint = remoteEndPoint;
        SendPermits = new SemaphoreSlim(maxInflightSends, maxInflightSends);
        // Not SingleReader: that channel kind cannot count its items, and heart-beating asks for the count.
        Outbound = Channel.CreateUnbounded<OutboundFrame>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = true });
        _lastReadTicks = _lastWriteTicks = Environment.TickCount64;
    }

    public string ConnectionId { get; }

    public string RemoteEndPoint { get; }

    /// <summary>One permit per SEND not yet confirmed by the broker; the read loop takes one before passing a SEND on.</summary>
    public SemaphoreSlim SendPermits { get; }

    /// <summary>Written by the session only; read by the writer loop. Complete it to close the connection after the queued frames.</summary>
    public Channel<OutboundFrame> Outbound { get; }

    /// <summary><see cref="Environment.TickCount64"/> when bytes (frames or heart-beats) last arrived.</summary>
    public long LastReadTicks => Volatile.Read(ref _lastReadTicks);

    /// <summary><see cref="Environment.TickCount64"/> when bytes were last flushed to the client.</summary>
    public long LastWriteTicks => Volatile.Read(ref _lastWriteTicks);

    /// <summary>True while the read loop waits for a SEND permit: the client's silence is then our doing, not a dead peer.</summary>
    public bool ReadingPaused => _readingPaused;

    internal void PauseReading() => _readingPaused = true;

    /// <summary>Reading resumes: the silence clock restarts, since bytes the client sent meanwhile were not looked at.</summary>
    internal void ResumeReading()
    {
        MarkRead();
        _readingPaused = false;
    }

    internal void MarkRead() => Volatile.Write(ref _lastReadTicks, Environment.TickCount64);

    internal void MarkWritten() => Volatile.Write(ref _lastWriteTicks, Environment.TickCount64);

    /// <summary>Queues a frame; false once the connection is closing.</summary>
    public bool TryWrite(StompFrame frame, FlushedDelivery? autoAck = null) => Outbound.Writer.TryWrite(new OutboundFrame(frame, autoAck));

    /// <summary>Queues a heart-beat unless frames are already queued (they will reach the client anyway).</summary>
    public bool TryWriteHeartBeat() => Outbound.Reader.Count == 0 && Outbound.Writer.TryWrite(OutboundFrame.HeartBeat);

    /// <summary>Closes after everything queued so far has been written and flushed.</summary>
    public void Close() => Outbound.Writer.TryComplete();
}
