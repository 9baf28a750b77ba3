namespace ActorBroker.Core.Protocol;

/// <summary>Whether a destination is a point-to-point queue or a publish/subscribe topic.</summary>
public enum DestinationKind : byte
{
    Queue = 1,
    Topic = 2,
}

/// <summary>
/// A named destination in ActiveMQ's naming style: <c>/queue/NAME</c> or <c>/topic/NAME</c>.
/// Protocol adapters parse their own syntax into this; the core never sees a protocol string.
/// </summary>
public readonly record struct Destination(DestinationKind Kind, string Name)
{
    public const string QueuePrefix = "/queue/";
    public const string TopicPrefix = "/topic/";

    /// <summary>Longest name accepted, so a hostile client cannot make persistence ids unbounded.</summary>
    public const int MaxNameLength = 200;

    public static Destination Queue(string name) => new(DestinationKind.Queue, name);
    public static Destination Topic(string name) => new(DestinationKind.Topic, name);

    /// <summary>Parses <c>/queue/NAME</c> or <c>/topic/NAME</c>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? text, out Destination destination, out string? error)
    {
        destination = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "missing destination";
            return false;
        }

        DestinationKind kind;
        string name;
        if (text.StartsWith(QueuePrefix, StringComparison.Ordinal))
        {
            kind = DestinationKind.Queue;
            name = text[QueuePrefix.Length..];
        }
        else if (text.StartsWith(TopicPrefix, StringComparison.Ordinal))
        {
            kind = DestinationKind.Topic;
            name = text[TopicPrefix.Length..];
        }
        else
        {
            error = $"unsupported destination [{text}], expected /queue/NAME or /topic/NAME";
            return false;
        }

        if (name.Length == 0 || name.Length > MaxNameLength)
        {
            error = $"destination name must be 1 to {MaxNameLength} characters: [{text}]";
            return false;
        }

        foreach (var c in name)
        {
            if (char.IsControl(c))
            {
                error = $"destination name contains a control character: [{text}]";
                return false;
            }
        }

        destination = new Destination(kind, name);
        error = null;
        return true;
    }

    public override string ToString() => (Kind == DestinationKind.Queue ? QueuePrefix : TopicPrefix) + Name;
}
