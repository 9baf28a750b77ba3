using Akka.Configuration;

namespace ActorBroker.Persistence.File;

/// <summary>Validated settings of <see cref="FileJournal"/>, read from <c>actorbroker.persistence.file.journal</c>.</summary>
public sealed record FileJournalSettings(string Directory, bool Fsync, long SegmentSize, int MaxBatchBytes, int WriteQueueSize)
{
    public const string ConfigPath = "actorbroker.persistence.file.journal";

    /// <summary>Reads the plugin section (the config Akka passes to the plugin, or the section at <see cref="ConfigPath"/>).</summary>
    public static FileJournalSettings Create(Config section)
    {
        var directory = section.GetString("directory", "");
        if (string.IsNullOrWhiteSpace(directory))
            throw new ConfigurationException($"{ConfigPath}.directory must name a directory");
        var segmentSize = section.GetByteSize("segment-size") ?? 0;
        if (segmentSize < 64 * 1024)
            throw new ConfigurationException($"{ConfigPath}.segment-size [{segmentSize}] must be at least 64 KiB");
        var maxBatch = section.GetByteSize("max-batch-bytes") ?? 0;
        if (maxBatch is < 4096 or > int.MaxValue / 2)
            throw new ConfigurationException($"{ConfigPath}.max-batch-bytes [{maxBatch}] must be between 4 KiB and 1 GiB");
        if (maxBatch > segmentSize)
            throw new ConfigurationException($"{ConfigPath}.max-batch-bytes [{maxBatch}] must not exceed segment-size [{segmentSize}]");
        var queue = section.GetInt("write-queue-size", 0);
        if (queue < 1)
            throw new ConfigurationException($"{ConfigPath}.write-queue-size [{queue}] must be at least 1");
        return new FileJournalSettings(Path.GetFullPath(directory), section.GetBoolean("fsync", true), segmentSize, (int)maxBatch, queue);
    }
}

/// <summary>Validated settings of <see cref="FileSnapshotStore"/>, read from <c>actorbroker.persistence.file.snapshot-store</c>.</summary>
public sealed record FileSnapshotStoreSettings(string Directory, bool Fsync)
{
    public const string ConfigPath = "actorbroker.persistence.file.snapshot-store";

    public static FileSnapshotStoreSettings Create(Config section)
    {
        var directory = section.GetString("directory", "");
        if (string.IsNullOrWhiteSpace(directory))
            throw new ConfigurationException($"{ConfigPath}.directory must name a directory");
        return new FileSnapshotStoreSettings(Path.GetFullPath(directory), section.GetBoolean("fsync", true));
    }
}
