using ActorBroker.Node;
using ActorBroker.Persistence.Raft;
using Akka.Configuration;
using Xunit;

namespace ActorBroker.Tests.Node;

/// <summary>The failover side of the node's configuration: Raft endpoints derived from env vars, fast-down settings, profiles.</summary>
public class FailoverConfigurationSpec
{
    private static string ProfileText(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "hocon", name);
            if (File.Exists(Path.Combine(dir.FullName, "ActorBroker.sln")) && File.Exists(path))
                return File.ReadAllText(path);
        }

        throw new FileNotFoundException($"hocon/{name} not found above {AppContext.BaseDirectory}");
    }

    [Fact(DisplayName = "Raft members, forwarding endpoints (port + 1) and self are derived from ACTORBROKER_RAFT_MEMBERS and ACTORBROKER_RAFT_PORT")]
    public void DerivesRaftEndpointsFromEnvironment()
    {
        var config = NodeConfiguration.Build(ProfileText("replicated-raft.conf"), [], new Dictionary<string, string?>
        {
            ["ACTORBROKER_RAFT_PORT"] = "7003",
            ["ACTORBROKER_RAFT_MEMBERS"] = "127.0.0.1:7001, 127.0.0.1:7003,127.0.0.1:7005",
        });

        var raft = RaftJournalSettings.Create(config);

        Assert.Equal(["127.0.0.1:7001", "127.0.0.1:7003", "127.0.0.1:7005"], raft.Members.Select(e => e.ToString()));
        Assert.Equal(["127.0.0.1:7002", "127.0.0.1:7004", "127.0.0.1:7006"],
            config.GetStringList("actorbroker.persistence.raft.forwarding-endpoints"));
        Assert.Equal("127.0.0.1:7003", raft.Self.ToString());
        Assert.Equal("actorbroker.persistence.raft.lease", config.GetString("akka.cluster.singleton.use-lease"));
    }

    [Fact(DisplayName = "A Raft member that is not host:port is refused with a message naming the entry")]
    public void RejectsMalformedRaftMember()
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeConfiguration.Build(ProfileText("replicated.conf"), [],
            new Dictionary<string, string?> { ["ACTORBROKER_RAFT_MEMBERS"] = "127.0.0.1:7001,nohost" }));
        Assert.Contains("[nohost]", e.Message);
    }

    [Theory(DisplayName = "Every profile yields valid fast-down settings and the sub-second cluster timing")]
    [InlineData("standalone.conf")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public void ProfilesCarryFailoverTiming(string profile)
    {
        var config = NodeConfiguration.Build(ProfileText(profile), [], new Dictionary<string, string?>());

        var fastDown = FastDownSettings.Create(config);

        Assert.True(fastDown.Enabled);
        Assert.Equal(TimeSpan.FromMilliseconds(300), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromMilliseconds(1), config.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.True(config.GetTimeSpan("akka.cluster.singleton.lease-retry-interval") <= TimeSpan.FromMilliseconds(200));
    }

    [Fact(DisplayName = "Fast-down settings refuse a zero probe timeout, naming the key")]
    public void FastDownRejectsZeroProbeTimeout()
    {
        var config = ConfigurationFactory.ParseString("actorbroker.node.fast-down { enabled = on, probe-timeout = 0ms }");
        var e = Assert.Throws<ConfigurationException>(() => FastDownSettings.Create(config));
        Assert.Contains("actorbroker.node.fast-down.probe-timeout", e.Message);
    }
}
