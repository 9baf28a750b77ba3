using Akka.Configuration;

namespace ActorBroker.Node;

/// <summary>Settings of <see cref="FastDown"/> (<c>actorbroker.node.fast-down</c>), read once and validated.</summary>
/// <param name="Enabled">Whether the node runs the fast-down actor at all.</param>
/// <param name="MinUnreachable">How long a member must have been unreachable (with its link down) before it is downed.</param>
/// <param name="CheckInterval">How often pending candidates are re-examined (a link can drop before or after unreachability).</param>
public sealed record FastDownSettings(bool Enabled, TimeSpan MinUnreachable, TimeSpan CheckInterval)
{
    public const string Path = "actorbroker.node.fast-down";

    public static FastDownSettings Create(Config config)
    {
        var section = config.GetConfig(Path)
            ?? throw new ConfigurationException($"missing configuration section [{Path}]");
        var minUnreachable = section.GetTimeSpan("min-unreachable", TimeSpan.Zero);
        if (minUnreachable < TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.min-unreachable] must not be negative, was [{minUnreachable}]");
        var checkInterval = section.GetTimeSpan("check-interval", TimeSpan.FromMilliseconds(50));
        if (checkInterval <= TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.check-interval] must be positive, was [{checkInterval}]");
        return new FastDownSettings(section.GetBoolean("enabled", true), minUnreachable, checkInterval);
    }
}
