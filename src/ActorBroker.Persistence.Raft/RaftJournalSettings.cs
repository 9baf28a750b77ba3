using System.Net;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace ActorBroker.Persistence.Raft;

/// <summary>How many replicas must hold an entry, and where, before a write is acknowledged (ActiveMQ's <c>sync</c> option).</summary>
public enum RaftSyncMode
{
    /// <summary>
    /// A majority has the entry on disk: the leader (DotNext commits an index only once its log is flushed through
    /// it) and enough followers that reported the entry applied, which they too do only after flushing.
    /// </summary>
    QuorumDisk,

    /// <summary>A majority received the entry and the leader flushed it (a Raft commit): followers may still flush later.</summary>
    QuorumMemory,
}

/// <summary>Where the write-ahead log keeps its pages between flushes (a throughput / RAM trade, not a durability one).</summary>
public enum RaftWalMemory
{
    /// <summary>
    /// Pages in process memory, written to their files with write-through I/O at each flush: no memory-mapped
    /// writeback, whose TLB shootdowns cost about a fifth of the CPU of a 64-writer benchmark on 2 cores.
    /// </summary>
    Private,

    /// <summary>Memory-mapped files: the OS page cache holds the log, so it costs less resident memory.</summary>
    Shared,
}

/// <summary>
/// Validated settings of one Raft replica, read from <c>actorbroker.persistence.raft</c>. No other class reads these
/// HOCON keys.
/// </summary>
public sealed record RaftJournalSettings
{
    public const string ConfigPath = "actorbroker.persistence.raft";

    public required IReadOnlyList<IPEndPoint> Members { get; init; }
    public required IReadOnlyList<IPEndPoint> ForwardingEndpoints { get; init; }
    public required IPEndPoint Self { get; init; }
    public required string DataDirectory { get; init; }
    public RaftSyncMode SyncMode { get; init; } = RaftSyncMode.QuorumDisk;
    public RaftWalMemory WalMemory { get; init; } = RaftWalMemory.Private;
    public TimeSpan LowerElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(300);
    public TimeSpan UpperElectionTimeout { get; init; } = TimeSpan.FromMilliseconds(600);
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxBatchOperations { get; init; } = 4096;
    public int MaxRoundsInFlight { get; init; } = 8;
    public int SnapshotInterval { get; init; } = 1000;
    public int DedupWindow { get; init; } = 100_000;
    public int WalChunkSize { get; init; } = 8 * 1024 * 1024;
    public int TransmissionBlockSize { get; init; } = 1024 * 1024;
    public LogLevel LogLevel { get; init; } = LogLevel.Error;

    /// <summary>Index of <see cref="Self"/> in <see cref="Members"/>.</summary>
    public int SelfIndex => IndexOf(Self);

    /// <summary>The forwarding endpoint of the member with this Raft endpoint, or null if it is no member.</summary>
    public IPEndPoint? ForwardingEndpointOf(EndPoint raftEndpoint)
        => raftEndpoint is IPEndPoint ip && IndexOf(ip) is var i and >= 0 ? ForwardingEndpoints[i] : null;

    private int IndexOf(IPEndPoint endpoint)
    {
        for (var i = 0; i < Members.Count; i++)
            if (Members[i].Equals(endpoint)) return i;
        return -1;
    }

    /// <summary>Reads and validates the section at <see cref="ConfigPath"/> (falling back to reference.conf).</summary>
    public static RaftJournalSettings Create(Config config)
    {
        var section = config.WithFallback(RaftJournalConfig.Default).GetConfig(ConfigPath)
            ?? throw new ConfigurationException($"Missing configuration section [{ConfigPath}]");
        return CreateFromSection(section);
    }

    /// <summary>Validates an already selected <c>actorbroker.persistence.raft</c> section.</summary>
    public static RaftJournalSettings CreateFromSection(Config section)
    {
        var members = ParseEndpoints(section, "members");
        if (members.Count == 0)
            throw new ConfigurationException($"[{ConfigPath}.members] is empty: list the Raft endpoint (host:port) of every member");
        if (members.Distinct().Count() != members.Count)
            throw new ConfigurationException($"[{ConfigPath}.members] lists an endpoint twice: [{string.Join(", ", members)}]");
        var forwarding = ParseEndpoints(section, "forwarding-endpoints");
        if (forwarding.Count != members.Count)
            throw new ConfigurationException(
                $"[{ConfigPath}.forwarding-endpoints] must have one entry per member ({members.Count}), has {forwarding.Count}");
        var self = ParseEndpoint(section.GetString("self", ""), "self");
        if (!members.Contains(self))
            throw new ConfigurationException($"[{ConfigPath}.self] = [{self}] is not one of [{ConfigPath}.members] [{string.Join(", ", members)}]");

        var dataDir = section.GetString("data-dir", "");
        if (string.IsNullOrWhiteSpace(dataDir))
            throw new ConfigurationException($"[{ConfigPath}.data-dir] must name a directory");

        var syncModeText = section.GetString("sync-mode", "quorum_disk");
        var syncMode = syncModeText switch
        {
            "quorum_disk" => RaftSyncMode.QuorumDisk,
            "quorum_mem" => RaftSyncMode.QuorumMemory,
            _ => throw new ConfigurationException($"Invalid [{ConfigPath}.sync-mode] [{syncModeText}], supported values [quorum_disk, quorum_mem]"),
        };
        var walMemoryText = section.GetString("wal-memory", "private");
        var walMemory = walMemoryText switch
        {
            "private" => RaftWalMemory.Private,
            "shared" => RaftWalMemory.Shared,
            _ => throw new ConfigurationException($"Invalid [{ConfigPath}.wal-memory] [{walMemoryText}], supported values [private, shared]"),
        };

        var logLevelText = section.GetString("log-level", "error");
        var logLevel = logLevelText switch
        {
            "off" => LogLevel.None,
            "error" => LogLevel.Error,
            "warning" => LogLevel.Warning,
            "info" => LogLevel.Information,
            "debug" => LogLevel.Debug,
            _ => throw new ConfigurationException($"Invalid [{ConfigPath}.log-level] [{logLevelText}], supported values [off, error, warning, info, debug]"),
        };

        var settings = new RaftJournalSettings
        {
            Members = members,
            ForwardingEndpoints = forwarding,
            Self = self,
            DataDirectory = Path.GetFullPath(dataDir),
            SyncMode = syncMode,
            WalMemory = walMemory,
            LowerElectionTimeout = Positive(section, "lower-election-timeout"),
            UpperElectionTimeout = Positive(section, "upper-election-timeout"),
            RequestTimeout = Positive(section, "request-timeout"),
            WriteTimeout = Positive(section, "write-timeout"),
            ReadTimeout = Positive(section, "read-timeout"),
            MaxBatchOperations = PositiveInt(section, "max-batch-operations"),
            MaxRoundsInFlight = PositiveInt(section, "max-rounds-in-flight"),
            SnapshotInterval = PositiveInt(section, "snapshot-interval"),
            DedupWindow = PositiveInt(section, "dedup-window"),
            WalChunkSize = PositiveInt(section, "wal-chunk-size"),
            TransmissionBlockSize = PositiveInt(section, "transmission-block-size"),
            LogLevel = logLevel,
        };
        return settings.Validate();
    }

    /// <summary>Checks the cross-field rules; returns this instance.</summary>
    public RaftJournalSettings Validate()
    {
        if (UpperElectionTimeout <= LowerElectionTimeout)
            throw new ConfigurationException(
                $"[{ConfigPath}.upper-election-timeout] ({UpperElectionTimeout}) must be greater than lower-election-timeout ({LowerElectionTimeout})");
        if (RequestTimeout >= LowerElectionTimeout)
            throw new ConfigurationException(
                $"[{ConfigPath}.request-timeout] ({RequestTimeout}) must be below lower-election-timeout ({LowerElectionTimeout})");
        if (SnapshotInterval < 2)
            throw new ConfigurationException($"[{ConfigPath}.snapshot-interval] ({SnapshotInterval}) must be at least 2");
        return this;
    }

    private static List<IPEndPoint> ParseEndpoints(Config section, string key)
        => (section.GetStringList(key) ?? []).Select(text => ParseEndpoint(text, key)).ToList();

    private static IPEndPoint ParseEndpoint(string text, string key)
    {
        if (!IPEndPoint.TryParse(text ?? "", out var endpoint) || endpoint.Port == 0)
            throw new ConfigurationException($"[{ConfigPath}.{key}] value [{text}] is not an IP endpoint host:port (e.g. 127.0.0.1:7001)");
        return endpoint;
    }

    private static TimeSpan Positive(Config section, string key)
    {
        var value = section.GetTimeSpan(key, null, allowInfinite: false);
        if (value <= TimeSpan.Zero)
            throw new ConfigurationException($"[{ConfigPath}.{key}] must be a positive duration, was [{value}]");
        return value;
    }

    private static int PositiveInt(Config section, string key)
    {
        var value = section.GetInt(key, 0);
        if (value <= 0)
            throw new ConfigurationException($"[{ConfigPath}.{key}] must be a positive integer, was [{value}]");
        return value;
    }
}
