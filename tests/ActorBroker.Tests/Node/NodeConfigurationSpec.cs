using ActorBroker.Node;
using Xunit;

namespace ActorBroker.Tests.Node;

public class NodeConfigurationSpec
{
    private const string Profile = """
        actorbroker.node.data-dir = "./data"
        actorbroker.coordination.file-lease.directory = ${actorbroker.node.data-dir}"/lease"
        actorbroker.stomp.port = 61613
        """;

    private static readonly Dictionary<string, string?> NoEnvironment = new();

    [Fact(DisplayName = "Command line parses --config and repeated --set in order")]
    public void ParsesCommandLine()
    {
        var cli = NodeCommandLine.Parse(["--config", "hocon/x.conf", "--set", "a.b=1", "--set", "c = two=2"]);
        Assert.Equal("hocon/x.conf", cli.ConfigFile);
        Assert.Equal([new("a.b", "1"), new("c", " two=2")], cli.Overrides);
        Assert.False(cli.ShowHelp);
    }

    [Theory(DisplayName = "Command line rejects unknown arguments and missing values with a message naming them")]
    [InlineData(new[] { "--bogus" }, "--bogus")]
    [InlineData(new[] { "--config" }, "--config")]
    [InlineData(new[] { "--set", "novalue" }, "novalue")]
    public void RejectsBadArguments(string[] args, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => NodeCommandLine.Parse(args));
        Assert.Contains(named, e.Message);
    }

    [Fact(DisplayName = "Precedence is profile < --set < environment, and derived paths follow the final data directory")]
    public void AppliesOverridesInOrder()
    {
        var env = new Dictionary<string, string?> { ["ACTORBROKER_STOMP_PORT"] = "7000", ["ACTORBROKER_DATA_DIR"] = "/tmp/ab-env" };
        var config = NodeConfiguration.Build(Profile, [new("actorbroker.stomp.port", "6000"), new("actorbroker.node.data-dir", "/tmp/ab-set")], env);
        Assert.Equal(7000, config.GetInt("actorbroker.stomp.port"));
        Assert.Equal("/tmp/ab-env", config.GetString("actorbroker.node.data-dir"));
        Assert.Equal("/tmp/ab-env/lease", config.GetString("actorbroker.coordination.file-lease.directory"));

        var setOnly = NodeConfiguration.Build(Profile, [new("actorbroker.stomp.port", "6000")], NoEnvironment);
        Assert.Equal(6000, setOnly.GetInt("actorbroker.stomp.port"));
    }

    [Fact(DisplayName = "A relative data directory becomes absolute")]
    public void DataDirectoryIsAbsolute()
    {
        var config = NodeConfiguration.Build(Profile, [], NoEnvironment);
        Assert.True(Path.IsPathRooted(config.GetString("actorbroker.node.data-dir")));
        Assert.EndsWith("/data/lease", config.GetString("actorbroker.coordination.file-lease.directory"));
    }

    [Fact(DisplayName = "ACTORBROKER_SEED_NODES becomes a list of Akka addresses and ACTORBROKER_HOST sets both listeners")]
    public void SeedNodesAndHost()
    {
        var env = new Dictionary<string, string?> { ["ACTORBROKER_SEED_NODES"] = "127.0.0.1:2551, 127.0.0.1:2552", ["ACTORBROKER_HOST"] = "127.0.0.2" };
        var config = NodeConfiguration.Build(Profile, [], env);
        Assert.Equal(["akka.tcp://actorbroker@127.0.0.1:2551", "akka.tcp://actorbroker@127.0.0.1:2552"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal("127.0.0.2", config.GetString("actorbroker.stomp.host"));
        Assert.Equal("127.0.0.2", config.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Fact(DisplayName = "Every component's reference.conf is in the fallback chain")]
    public void ReferenceConfigsAreIncluded()
    {
        var config = NodeConfiguration.Build(Profile, [], NoEnvironment);
        Assert.True(config.HasPath("actorbroker.broker"));
        Assert.True(config.HasPath("actorbroker.stomp.max-frame-size"));
        Assert.False(string.IsNullOrEmpty(config.GetString("akka.persistence.journal.sql.class")));
    }
}
