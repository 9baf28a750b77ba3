using Akka.Configuration;

namespace ActorBroker.Persistence.Raft;

/// <summary>The embedded reference.conf of the Raft journal (root <c>actorbroker.persistence.raft</c>).</summary>
public static class RaftJournalConfig
{
    public static Config Default { get; } = ConfigurationFactory.FromResource<RaftJournal>("ActorBroker.Persistence.Raft.reference.conf");
}
