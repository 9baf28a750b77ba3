using ActorBroker.Core;
using Akka.Configuration;
using Xunit;

namespace ActorBroker.Tests.Core;

public sealed class BrokerSettingsSpec
{
    [Fact(DisplayName = "Settings default to reference.conf: ActiveMQ's redelivery limit, DLQ name and prefetch, Akka's default journal")]
    public void DefaultsFromReferenceConf()
    {
        var settings = BrokerSettings.Create(Config.Empty);
        Assert.Null(settings.JournalPluginId);
        Assert.Null(settings.SnapshotPluginId);
        Assert.Equal(6, settings.MaxRedeliveries);
        Assert.Equal("ActiveMQ.DLQ", settings.DeadLetterQueue);
        Assert.Equal(1000, settings.DefaultPrefetch);
        Assert.Equal(1000, settings.SnapshotEvery);
        Assert.Equal(10_000, settings.MaxDestinations);
    }

    [Theory(DisplayName = "An invalid value is refused with a ConfigurationException naming the key")]
    [InlineData("max-destinations = 0", "max-destinations")]
    [InlineData("max-queue-bytes = -1", "max-queue-bytes")]
    [InlineData("max-redeliveries = -1", "max-redeliveries")]
    [InlineData("default-prefetch = 0", "default-prefetch")]
    [InlineData("dead-letter-queue = \"\"", "dead-letter-queue")]
    [InlineData("destination-restart-delay = 0s", "destination-restart-delay")]
    public void RejectsInvalidValues(string line, string key)
    {
        var config = ConfigurationFactory.ParseString("actorbroker.broker." + line);
        var error = Assert.Throws<ConfigurationException>(() => BrokerSettings.Create(config));
        Assert.Contains(key, error.Message);
    }
}
