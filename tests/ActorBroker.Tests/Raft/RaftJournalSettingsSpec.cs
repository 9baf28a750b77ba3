using ActorBroker.Persistence.Raft;
using Akka.Configuration;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>Validation of <c>actorbroker.persistence.raft</c>: defaults from reference.conf, errors naming the key.</summary>
public sealed class RaftJournalSettingsSpec
{
    private const string Valid = """
        actorbroker.persistence.raft {
          members = ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]
          forwarding-endpoints = ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"]
          self = "127.0.0.1:7002"
        }
        """;

    private static RaftJournalSettings Create(string overrides = "")
        => RaftJournalSettings.Create(ConfigurationFactory.ParseString(overrides).WithFallback(ConfigurationFactory.ParseString(Valid)));

    [Fact(DisplayName = "Raft journal settings take reference.conf defaults and resolve self and its forwarding endpoint")]
    public void Defaults()
    {
        var settings = Create();
        Assert.Equal(1, settings.SelfIndex);
        Assert.Equal(RaftSyncMode.QuorumDisk, settings.SyncMode);
        Assert.Equal(TimeSpan.FromMilliseconds(300), settings.LowerElectionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), settings.WriteTimeout);
        Assert.Equal("127.0.0.1:7103", settings.ForwardingEndpointOf(settings.Members[2])!.ToString());
        Assert.True(Path.IsPathRooted(settings.DataDirectory));
        Assert.Equal(RaftSyncMode.QuorumMemory, Create("actorbroker.persistence.raft.sync-mode = quorum_mem").SyncMode);
        Assert.Equal(RaftWalMemory.Private, settings.WalMemory);
        Assert.Equal(RaftWalMemory.Shared, Create("actorbroker.persistence.raft.wal-memory = shared").WalMemory);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, settings.LogLevel);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Information, Create("actorbroker.persistence.raft.log-level = info").LogLevel);
    }

    [Theory(DisplayName = "Raft journal settings reject invalid values with a message naming the key")]
    [InlineData("actorbroker.persistence.raft.members = []", "members")]
    [InlineData("actorbroker.persistence.raft.self = \"127.0.0.1:9999\"", "self")]
    [InlineData("actorbroker.persistence.raft.self = \"not-an-endpoint\"", "self")]
    [InlineData("actorbroker.persistence.raft.forwarding-endpoints = [\"127.0.0.1:7101\"]", "forwarding-endpoints")]
    [InlineData("actorbroker.persistence.raft.sync-mode = fast", "sync-mode")]
    [InlineData("actorbroker.persistence.raft.wal-memory = disk", "wal-memory")]
    [InlineData("actorbroker.persistence.raft.request-timeout = 2s", "request-timeout")]
    [InlineData("actorbroker.persistence.raft.upper-election-timeout = 100ms", "upper-election-timeout")]
    [InlineData("actorbroker.persistence.raft.write-timeout = 0s", "write-timeout")]
    [InlineData("actorbroker.persistence.raft.max-batch-operations = 0", "max-batch-operations")]
    [InlineData("actorbroker.persistence.raft.log-level = verbose", "log-level")]
    public void RejectsInvalid(string overrides, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => Create(overrides));
        Assert.Contains($"actorbroker.persistence.raft.{key}]", error.Message);
    }
}
