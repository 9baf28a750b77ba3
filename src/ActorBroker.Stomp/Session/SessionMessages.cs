using ActorBroker.Stomp.Codec;
using ActorBroker.Stomp.Transport;
using Akka.Event;

namespace ActorBroker.Stomp.Session;

/// <summary>Read loop → session. A complete frame arrived. No reply.</summary>
internal sealed record FrameReceived(StompFrame Frame) : IDeadLetterSuppression;

/// <summary>Read loop → session. The byte stream broke the protocol; the session answers ERROR and closes.</summary>
internal sealed record TransportProtocolError(StompProtocolException Error) : IDeadLetterSuppression;

/// <summary>Read loop → session. The client closed or the connection was aborted; the session stops (its subscriptions end).</summary>
internal sealed record TransportClosed(string Reason) : IDeadLetterSuppression;

/// <summary>Writer loop → session. These auto-ack MESSAGE frames were flushed to the socket; the session acks them to the core.</summary>
internal sealed record DeliveriesFlushed(IReadOnlyList<FlushedDelivery> Deliveries) : IDeadLetterSuppression;
