using Akka.Configuration;

namespace ActorBroker.Node;

/// <summary>Settings of <see cref="FastDown"/> (<c>actorbroker.node.fast-down</c>), read once and validated.</summary>
/// <param name="Enabled">Whether the node runs the fast-down actor at all.</param>
/// <param name="MinUnreachable">How long a member must have been unreachable (with its process gone) before it is downed.</param>
/// <param name="ProbeInterval">How often an unreachable, undecided member's remoting port is probed again.</param>
/// <param name="ProbeTimeout">How long one probe connect may take; a timeout counts as "maybe alive".</param>
/// <param name="LinkDropProbeWindow">How long a still-reachable member is probed after its remoting link dropped.</param>
public sealed record FastDownSettings(bool Enabled, TimeSpan MinUnreachable, TimeSpan ProbeInterval, TimeSpan ProbeTimeout, TimeSpan LinkDropProbeWindow)
{
    public const string Path = "actorbroker.node.fast-down";

    public static FastDownSettings Create(Config config)
    {
        var section = config.GetConfig(Path)
            ?? throw new ConfigurationException($"missing configuration section [{Path}]");
        var minUnreachable = section.GetTimeSpan("min-unreachable", TimeSpan.Zero);
        if (minUnreachable < TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.min-unreachable] must not be negative, was [{minUnreachable}]");
        var probeInterval = Positive(section, "probe-interval", TimeSpan.FromMilliseconds(100));
        var probeTimeout = Positive(section, "probe-timeout", TimeSpan.FromMilliseconds(500));
        var linkDropProbeWindow = Positive(section, "link-drop-probe-window", TimeSpan.FromSeconds(2));
        return new FastDownSettings(section.GetBoolean("enabled", true), minUnreachable, probeInterval, probeTimeout, linkDropProbeWindow);
    }

    private static TimeSpan Positive(Config section, string key, TimeSpan fallback)
    {
        var value = section.GetTimeSpan(key, fallback);
        if (value <= TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.{key}] must be positive, was [{value}]");
        return value;
    }
}
