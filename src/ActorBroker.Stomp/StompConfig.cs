using Akka.Configuration;

namespace ActorBroker.Stomp;

/// <summary>The embedded reference.conf of ActorBroker.Stomp (root <c>actorbroker.stomp</c>).</summary>
public static class StompConfig
{
    public static Config Default { get; } = ConfigurationFactory.FromResource<StompSettings>("ActorBroker.Stomp.reference.conf");
}
