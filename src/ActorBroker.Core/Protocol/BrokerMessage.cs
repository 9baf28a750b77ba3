namespace ActorBroker.Core.Protocol;

/// <summary>
/// One message as the core stores and routes it. Immutable: the same instance is journalled,
/// kept in a queue and delivered to consumers.
/// </summary>
/// <param name="MessageId">Unique across restarts and nodes (see <see cref="MessageIdGenerator"/>).</param>
/// <param name="Destination">Where the producer sent it.</param>
/// <param name="Persistent">Only persistent messages are journalled (ActiveMQ semantics); the others live in memory only.</param>
/// <param name="Timestamp">Broker receive time, Unix milliseconds.</param>
/// <param name="Headers">User headers in the order the producer sent them, minus those the protocol owns.</param>
/// <param name="Body">Opaque bytes.</param>
public sealed record BrokerMessage(
    string MessageId,
    Destination Destination,
    bool Persistent,
    long Timestamp,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    ReadOnlyMemory<byte> Body)
{
    /// <summary>Approximate memory footprint, for queue size limits.</summary>
    public long ApproximateSize
    {
        get
        {
            long size = 64 + Body.Length + MessageId.Length * 2;
            foreach (var h in Headers)
                size += 32 + (h.Key.Length + h.Value.Length) * 2;
            return size;
        }
    }
}

/// <summary>How a subscription acknowledges, in STOMP's vocabulary (the core needs no more).</summary>
public enum AckMode : byte
{
    /// <summary>The broker considers a message acknowledged once it has been written to the consumer.</summary>
    Auto = 1,
    /// <summary>An ACK covers the named message and every earlier one delivered on the same subscription.</summary>
    Client = 2,
    /// <summary>An ACK covers only the named message.</summary>
    ClientIndividual = 3,
}
