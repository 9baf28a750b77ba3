namespace ActorBroker.Core.Protocol;

/// <summary>
/// Makes message ids unique across restarts and nodes without coordination: a random
/// per-process prefix (like ActiveMQ's <c>ID:host-port-time-n</c>) plus a counter.
/// </summary>
public sealed class MessageIdGenerator
{
    private readonly string _prefix;
    private long _counter;

    public MessageIdGenerator(string nodeName)
    {
        _prefix = $"ID:{nodeName}-{Guid.NewGuid():N}:";
    }

    public string Next() => _prefix + Interlocked.Increment(ref _counter).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
