using Akka.Configuration;

namespace ActorBroker.Persistence.File;

/// <summary>The embedded reference.conf of this project (root <c>actorbroker.persistence.file</c>).</summary>
public static class FileJournalConfig
{
    public static Config Default { get; } = ConfigurationFactory.FromResource<FileJournal>("ActorBroker.Persistence.File.reference.conf");
}
