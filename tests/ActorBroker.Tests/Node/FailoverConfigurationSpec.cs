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
        Assert.Equal(TimeSpan.FromSeconds(1), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromMilliseconds(1), config.GetTimeSpan("akka.cluster.down-removal-margin"));
        Assert.True(config.GetTimeSpan("akka.cluster.singleton.lease-retry-interval") <= TimeSpan.FromMilliseconds(200));
    }

    [Theory(DisplayName = "The shared-store profiles down by lease-majority on their own lease kind, and a woken frozen node downs itself and rejoins")]
    [InlineData("shared-file.conf", "actorbroker.coordination.file-lease")]
    [InlineData("sql-postgres.conf", "actorbroker.coordination.sql-lease")]
    public void SharedStoreProfilesSurviveAFrozenMaster(string profile, string leaseSection)
    {
        var config = NodeConfiguration.Build(ProfileText(profile), [], new Dictionary<string, string?>());

        Assert.Equal("lease-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(leaseSection, config.GetString("akka.cluster.split-brain-resolver.lease-majority.lease-implementation"));
        Assert.Equal(leaseSection, config.GetString("akka.cluster.singleton.use-lease"));
        Assert.Equal("actorbroker-akka-sbr", config.GetString("akka.cluster.split-brain-resolver.lease-majority.lease-name"));
        Assert.Equal("off", config.GetString("akka.cluster.split-brain-resolver.down-all-when-unstable"));
        var selfDown = SelfDownAfterPauseSettings.Create(config);
        Assert.True(selfDown.Enabled);
        Assert.Equal(config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"), selfDown.MaxPause);
        Assert.True(config.GetBoolean("actorbroker.node.restart-when-downed.enabled"));
    }

    [Theory(DisplayName = "The replicated profiles keep keep-majority, and a woken frozen node downs itself and rejoins (else it can down the live standby)")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public void ReplicatedProfilesRejoinAfterAPause(string profile)
    {
        var config = NodeConfiguration.Build(ProfileText(profile), [], new Dictionary<string, string?>());

        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        var selfDown = SelfDownAfterPauseSettings.Create(config);
        Assert.True(selfDown.Enabled);
        Assert.Equal(config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"), selfDown.MaxPause);
        Assert.True(config.GetBoolean("actorbroker.node.restart-when-downed.enabled"));
    }

    [Theory(DisplayName = "Profiles that did not opt in keep the process-ending defaults: no self-down after a pause, no in-process restart")]
    [InlineData("standalone.conf")]
    [InlineData("sql-sqlite.conf")]
    public void OtherProfilesKeepDefaults(string profile)
    {
        var config = NodeConfiguration.Build(ProfileText(profile), [], new Dictionary<string, string?>());

        Assert.False(SelfDownAfterPauseSettings.Create(config).Enabled);
        Assert.False(config.GetBoolean("actorbroker.node.restart-when-downed.enabled"));
    }

    [Fact(DisplayName = "sql-postgres appends the idle-in-transaction limit to the node's connection string for journal and snapshots, not the lease")]
    public void PostgresJournalEndsIdleTransactions()
    {
        var config = NodeConfiguration.Build(ProfileText("sql-postgres.conf"), [], new Dictionary<string, string?>
        {
            ["ACTORBROKER_SQL_CONNECTION"] = "Host=127.0.0.1;Port=5432;Database=broker;Username=broker",
        });

        const string expected = "Host=127.0.0.1;Port=5432;Database=broker;Username=broker;Options=-c idle_in_transaction_session_timeout=3000";
        Assert.Equal(expected, config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal(expected, config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        Assert.Equal("Host=127.0.0.1;Port=5432;Database=broker;Username=broker", config.GetString("actorbroker.coordination.sql-lease.connection-string"));
        Assert.Contains("idle_in_transaction_session_timeout=3000",
            new Npgsql.NpgsqlConnectionStringBuilder(expected).Options);
    }

    [Fact(DisplayName = "A restarted incarnation seeds itself first, then every other member the downed one knew")]
    public void RejoinSeedsFollowTheLastMembership()
    {
        var config = NodeConfiguration.Build(ProfileText("shared-file.conf"), [], new Dictionary<string, string?>
        {
            ["ACTORBROKER_CLUSTER_PORT"] = "2551",
            ["ACTORBROKER_SEED_NODES"] = "127.0.0.1:2551",
        });
        var self = Akka.Actor.Address.Parse("akka.tcp://actorbroker@127.0.0.1:2551");
        var other = Akka.Actor.Address.Parse("akka.tcp://actorbroker@127.0.0.1:2552");

        var rejoin = NodeConfiguration.WithRejoinSeeds(config, [self, other]);

        Assert.Equal(["akka.tcp://actorbroker@127.0.0.1:2551", "akka.tcp://actorbroker@127.0.0.1:2552"],
            rejoin.GetStringList("akka.cluster.seed-nodes"));
        var noSeeds = NodeConfiguration.Build(ProfileText("shared-file.conf"), [], new Dictionary<string, string?> { ["ACTORBROKER_CLUSTER_PORT"] = "2551" });
        Assert.Equal(["akka.tcp://actorbroker@127.0.0.1:2551", "akka.tcp://actorbroker@127.0.0.1:2552"],
            NodeConfiguration.WithRejoinSeeds(noSeeds, [other]).GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact(DisplayName = "Self-down-after-pause settings refuse a max-pause not above the check interval, naming the key")]
    public void SelfDownRejectsTooShortMaxPause()
    {
        var config = ConfigurationFactory.ParseString("actorbroker.node.self-down-after-pause { enabled = on, max-pause = 50ms, check-interval = 100ms }");
        var e = Assert.Throws<ConfigurationException>(() => SelfDownAfterPauseSettings.Create(config));
        Assert.Contains("actorbroker.node.self-down-after-pause.max-pause", e.Message);
    }

    [Fact(DisplayName = "Fast-down settings refuse a zero probe timeout, naming the key")]
    public void FastDownRejectsZeroProbeTimeout()
    {
        var config = ConfigurationFactory.ParseString("actorbroker.node.fast-down { enabled = on, probe-timeout = 0ms }");
        var e = Assert.Throws<ConfigurationException>(() => FastDownSettings.Create(config));
        Assert.Contains("actorbroker.node.fast-down.probe-timeout", e.Message);
    }

    [Theory(DisplayName = "Every SQL-journal profile writes batches of 1000 rows with a 20000-row buffer, SQLite with one writer stream")]
    [InlineData("standalone-sqlite.conf", 1)]
    [InlineData("sql-sqlite.conf", 1)]
    [InlineData("sql-postgres.conf", 3)]
    public void SqlProfilesCarryTheMeasuredBatching(string profile, int parallelism)
    {
        var config = NodeConfiguration.Build(ProfileText(profile), [], new Dictionary<string, string?>());

        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal(1000, config.GetInt("akka.persistence.journal.sql.batch-size"));
        Assert.Equal(20000, config.GetInt("akka.persistence.journal.sql.buffer-size"));
        Assert.Equal(parallelism, config.GetInt("akka.persistence.journal.sql.parallelism"));
        Assert.True(config.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
    }
}
