using ActorBroker.Stomp.Codec;
using Akka.Actor;
using Akka.Configuration;

namespace ActorBroker.Stomp;

/// <summary>
/// Immutable settings of the STOMP listener and its sessions, read once from <c>actorbroker.stomp</c>.
/// No other class reads these HOCON keys.
/// </summary>
public sealed record StompSettings
{
    public const string ConfigPath = "actorbroker.stomp";

    public required string Host { get; init; }
    public required int Port { get; init; }
    public required int MaxFrameSize { get; init; }
    public required int MaxHeaders { get; init; }
    public required int MaxHeaderLength { get; init; }
    public required int MaxInflightSends { get; init; }
    public required int MaxTransactionFrames { get; init; }
    public required int DefaultPrefetch { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }
    public required TimeSpan ConfirmTimeout { get; init; }
    public required TimeSpan CloseTimeout { get; init; }
    public required TimeSpan BindRetryInterval { get; init; }

    /// <summary>The "sx" of CONNECTED: how often the server can send heart-beats; zero = never.</summary>
    public required TimeSpan HeartBeatSendInterval { get; init; }

    /// <summary>The "sy" of CONNECTED: how often the server wants client heart-beats; zero = not wanted.</summary>
    public required TimeSpan HeartBeatReceiveInterval { get; init; }

    /// <summary>Multiplier on the negotiated client interval before a silent client is disconnected.</summary>
    public required double HeartBeatGraceFactor { get; init; }

    public StompParserLimits ParserLimits => new(MaxFrameSize, MaxHeaders, MaxHeaderLength);

    /// <summary>Settings from <c>actorbroker.stomp</c> of the system's configuration, defaults from reference.conf.</summary>
    public static StompSettings Create(ActorSystem system) => Create(system.Settings.Config);

    /// <summary>
    /// Reads and validates <c>actorbroker.stomp</c> of <paramref name="config"/> (a root config), falling
    /// back on <see cref="StompConfig.Default"/>. Throws <see cref="ConfigurationException"/> naming the key.
    /// </summary>
    public static StompSettings Create(Config config)
    {
        var stomp = config.WithFallback(StompConfig.Default).GetConfig(ConfigPath);
        var settings = new StompSettings
        {
            Host = stomp.GetString("host"),
            Port = stomp.GetInt("port"),
            MaxFrameSize = ToInt32(stomp.GetByteSize("max-frame-size"), "max-frame-size"),
            MaxHeaders = stomp.GetInt("max-headers"),
            MaxHeaderLength = ToInt32(stomp.GetByteSize("max-header-length"), "max-header-length"),
            MaxInflightSends = stomp.GetInt("max-inflight-sends"),
            MaxTransactionFrames = stomp.GetInt("max-transaction-frames"),
            DefaultPrefetch = stomp.GetInt("default-prefetch"),
            ConnectTimeout = stomp.GetTimeSpan("connect-timeout"),
            ConfirmTimeout = stomp.GetTimeSpan("confirm-timeout"),
            CloseTimeout = stomp.GetTimeSpan("close-timeout"),
            BindRetryInterval = stomp.GetTimeSpan("bind-retry-interval"),
            HeartBeatSendInterval = stomp.GetTimeSpan("heartbeat.send-interval"),
            HeartBeatReceiveInterval = stomp.GetTimeSpan("heartbeat.receive-interval"),
            HeartBeatGraceFactor = stomp.GetDouble("heartbeat.grace-factor"),
        };
        settings.Validate();
        return settings;
    }

    /// <summary>Checks every rule, including those across keys; throws naming the key and the accepted range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
            throw Invalid("host", Host, "a host name or IP address");
        if (Port is < 0 or > 65535)
            throw Invalid("port", Port, "0 to 65535");
        if (MaxFrameSize < 1024)
            throw Invalid("max-frame-size", MaxFrameSize, "at least 1 KiB");
        if (MaxHeaders < 1)
            throw Invalid("max-headers", MaxHeaders, "at least 1");
        if (MaxHeaderLength < 64 || MaxHeaderLength > MaxFrameSize)
            throw Invalid("max-header-length", MaxHeaderLength, "64 bytes up to max-frame-size");
        if (MaxInflightSends < 1)
            throw Invalid("max-inflight-sends", MaxInflightSends, "at least 1");
        if (MaxTransactionFrames < 1)
            throw Invalid("max-transaction-frames", MaxTransactionFrames, "at least 1");
        if (DefaultPrefetch < 1)
            throw Invalid("default-prefetch", DefaultPrefetch, "at least 1");
        if (ConnectTimeout <= TimeSpan.Zero)
            throw Invalid("connect-timeout", ConnectTimeout, "a positive duration");
        if (ConfirmTimeout <= TimeSpan.Zero)
            throw Invalid("confirm-timeout", ConfirmTimeout, "a positive duration");
        if (CloseTimeout <= TimeSpan.Zero)
            throw Invalid("close-timeout", CloseTimeout, "a positive duration");
        if (BindRetryInterval <= TimeSpan.Zero)
            throw Invalid("bind-retry-interval", BindRetryInterval, "a positive duration");
        if (HeartBeatSendInterval < TimeSpan.Zero)
            throw Invalid("heartbeat.send-interval", HeartBeatSendInterval, "0 (off) or a positive duration");
        if (HeartBeatReceiveInterval < TimeSpan.Zero)
            throw Invalid("heartbeat.receive-interval", HeartBeatReceiveInterval, "0 (off) or a positive duration");
        if (double.IsNaN(HeartBeatGraceFactor) || HeartBeatGraceFactor < 1.0)
            throw Invalid("heartbeat.grace-factor", HeartBeatGraceFactor, "a number >= 1.0");
    }

    private static int ToInt32(long? bytes, string key)
    {
        if (bytes is null or < 0 or > int.MaxValue)
            throw Invalid(key, bytes, $"a size from 0 to {int.MaxValue} bytes");
        return (int)bytes.Value;
    }

    private static ConfigurationException Invalid(string key, object? value, string accepted) =>
        new($"Invalid {ConfigPath}.{key} [{value}], expected {accepted}");
}
