using Akka.Configuration;

namespace ActorBroker.Node;

/// <summary>Settings of <see cref="RaftLeaderFollowsOldest"/> (<c>actorbroker.node.raft-leader-follows-oldest</c>).</summary>
/// <param name="CheckInterval">How often the node compares Raft leadership with the cluster's oldest member.</param>
/// <param name="HandOverDelay">How long a leader that is not the oldest keeps leading before it steps down.</param>
/// <param name="AssistAfter">How long the oldest may fail to win an election before it asks the others to campaign.</param>
/// <param name="AssistWindow">How long a node asked to assist may campaign.</param>
public sealed record RaftLeaderFollowsOldestSettings(TimeSpan CheckInterval, TimeSpan HandOverDelay, TimeSpan AssistAfter, TimeSpan AssistWindow)
{
    public const string Path = "actorbroker.node.raft-leader-follows-oldest";

    public static RaftLeaderFollowsOldestSettings Create(Config config)
    {
        var section = config.GetConfig(Path) ?? throw new ConfigurationException($"missing configuration section [{Path}]");
        return new RaftLeaderFollowsOldestSettings(
            Positive(section, "check-interval"), Positive(section, "hand-over-delay"),
            Positive(section, "assist-after"), Positive(section, "assist-window"));
    }

    private static TimeSpan Positive(Config section, string key)
    {
        var value = section.GetTimeSpan(key, TimeSpan.Zero);
        if (value <= TimeSpan.Zero)
            throw new ConfigurationException($"[{Path}.{key}] must be a positive duration, was [{value}]");
        return value;
    }
}
