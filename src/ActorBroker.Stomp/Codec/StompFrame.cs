namespace ActorBroker.Stomp.Codec;

/// <summary>
/// One STOMP frame, fully materialized: decoded (unescaped) headers in wire order, repeats
/// included, and the body bytes. Immutable; safe to pass between the transport and a session actor.
/// </summary>
public sealed class StompFrame
{
    private static readonly IReadOnlyList<KeyValuePair<string, string>> NoHeaders = [];

    public StompFrame(StompCommand command, IReadOnlyList<KeyValuePair<string, string>>? headers = null, ReadOnlyMemory<byte> body = default)
    {
        Command = command;
        Headers = headers ?? NoHeaders;
        Body = body;
    }

    public StompCommand Command { get; }

    /// <summary>Headers in the order they were sent; a name may repeat.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The value of the first header named <paramref name="name"/> (STOMP 1.2: the first of repeated headers wins), or null.</summary>
    public string? GetHeader(string name)
    {
        foreach (var header in Headers)
        {
            if (string.Equals(header.Key, name, StringComparison.Ordinal))
                return header.Value;
        }

        return null;
    }

    public override string ToString() => $"{Command.ToWireName()} ({Headers.Count} headers, {Body.Length} body bytes)";
}
