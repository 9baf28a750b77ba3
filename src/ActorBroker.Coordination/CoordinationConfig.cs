using Akka.Configuration;

namespace ActorBroker.Coordination;

/// <summary>The embedded reference.conf of this project (lease sections under <c>actorbroker.coordination</c>).</summary>
public static class CoordinationConfig
{
    public static Config Default { get; } =
        ConfigurationFactory.FromResource<FencingTokens>("ActorBroker.Coordination.reference.conf");
}
