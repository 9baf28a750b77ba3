using Akka.Configuration;

namespace ActorBroker.Core;

/// <summary>The embedded reference.conf of the broker core (settings under <c>actorbroker.broker</c>, serializer bindings).</summary>
public static class CoreConfig
{
    public static Config Default { get; } = ConfigurationFactory.FromResource<BrokerManager>("ActorBroker.Core.reference.conf");
}
