using Akka.Configuration;

namespace ActorBroker.Core;

/// <summary>
/// The broker core's settings, read once from <c>actorbroker.broker</c> (see reference.conf for each key's meaning).
/// </summary>
public sealed record BrokerSettings
{
    public const string ConfigPath = "actorbroker.broker";

    /// <summary>Journal plugin config path; null = Akka's default journal.</summary>
    public string? JournalPluginId { get; init; }

    /// <summary>Snapshot store plugin config path; null = Akka's default snapshot store.</summary>
    public string? SnapshotPluginId { get; init; }

    public int MaxDestinations { get; init; } = 10_000;
    public long MaxQueueBytes { get; init; } = 64L * 1024 * 1024;
    public int MaxRedeliveries { get; init; } = 6;
    public string DeadLetterQueue { get; init; } = "ActiveMQ.DLQ";
    public int SnapshotEvery { get; init; } = 1000;
    public int RedeliveryMarkWindow { get; init; } = 100;
    public int TopicPendingLimit { get; init; } = 1000;
    public int DefaultPrefetch { get; init; } = 1000;
    public TimeSpan DestinationRestartDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Reads <c>actorbroker.broker</c> from <paramref name="config"/> (falling back to the core's reference.conf) and validates it.</summary>
    public static BrokerSettings Create(Config config)
    {
        var c = config.WithFallback(CoreConfig.Default).GetConfig(ConfigPath)
                ?? throw new ConfigurationException($"Missing config section [{ConfigPath}]");

        var settings = new BrokerSettings
        {
            JournalPluginId = NullIfEmpty(c.GetString("journal-plugin-id", "")),
            SnapshotPluginId = NullIfEmpty(c.GetString("snapshot-plugin-id", "")),
            MaxDestinations = Positive(c.GetInt("max-destinations"), "max-destinations"),
            MaxQueueBytes = Positive(c.GetLong("max-queue-bytes"), "max-queue-bytes"),
            MaxRedeliveries = NotNegative(c.GetInt("max-redeliveries"), "max-redeliveries"),
            DeadLetterQueue = c.GetString("dead-letter-queue", ""),
            SnapshotEvery = Positive(c.GetInt("snapshot-every"), "snapshot-every"),
            RedeliveryMarkWindow = Positive(c.GetInt("redelivery-mark-window"), "redelivery-mark-window"),
            TopicPendingLimit = Positive(c.GetInt("topic-pending-limit"), "topic-pending-limit"),
            DefaultPrefetch = Positive(c.GetInt("default-prefetch"), "default-prefetch"),
            DestinationRestartDelay = c.GetTimeSpan("destination-restart-delay", TimeSpan.FromSeconds(1)),
        };

        if (!Protocol.Destination.TryParse(Protocol.Destination.QueuePrefix + settings.DeadLetterQueue, out _, out var error))
            throw new ConfigurationException($"Invalid [{ConfigPath}.dead-letter-queue]: {error}");
        if (settings.DestinationRestartDelay <= TimeSpan.Zero)
            throw new ConfigurationException($"[{ConfigPath}.destination-restart-delay] must be positive, was [{settings.DestinationRestartDelay}]");
        return settings;
    }

    /// <summary>The dead-letter queue as a destination.</summary>
    public Protocol.Destination DeadLetterDestination => Protocol.Destination.Queue(DeadLetterQueue);

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static T Positive<T>(T value, string key) where T : System.Numerics.INumber<T> =>
        value > T.Zero ? value : throw new ConfigurationException($"[{ConfigPath}.{key}] must be positive, was [{value}]");

    private static T NotNegative<T>(T value, string key) where T : System.Numerics.INumber<T> =>
        value >= T.Zero ? value : throw new ConfigurationException($"[{ConfigPath}.{key}] must be zero or more, was [{value}]");
}
