using ActorBroker.Stomp;
using Akka.Configuration;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class StompSettingsTests
{
    [Fact(DisplayName = "Defaults come from the embedded reference.conf")]
    public void Defaults()
    {
        var settings = StompSettings.Create(ConfigurationFactory.Empty);

        Assert.Equal("127.0.0.1", settings.Host);
        Assert.Equal(61613, settings.Port);
        Assert.Equal(10 * 1024 * 1024, settings.MaxFrameSize);
        Assert.Equal(1000, settings.MaxHeaders);
        Assert.Equal(1000, settings.DefaultPrefetch);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.HeartBeatSendInterval);
        Assert.Equal(2.0, settings.HeartBeatGraceFactor);
    }

    [Theory(DisplayName = "An invalid value throws a ConfigurationException naming the full key")]
    [InlineData("port = 70000", "actorbroker.stomp.port")]
    [InlineData("max-headers = 0", "actorbroker.stomp.max-headers")]
    [InlineData("max-header-length = 20 MiB", "actorbroker.stomp.max-header-length")]
    [InlineData("heartbeat.grace-factor = 0.5", "actorbroker.stomp.heartbeat.grace-factor")]
    [InlineData("default-prefetch = -3", "actorbroker.stomp.default-prefetch")]
    public void RejectsInvalidValues(string setting, string key)
    {
        var config = ConfigurationFactory.ParseString("actorbroker.stomp." + setting);
        var error = Assert.Throws<ConfigurationException>(() => StompSettings.Create(config));
        Assert.Contains(key, error.Message);
    }
}
