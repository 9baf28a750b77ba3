using System.Text;
using ActorBroker.Coordination;
using ActorBroker.Core;
using ActorBroker.Persistence.File;
using ActorBroker.Persistence.Raft;
using ActorBroker.Stomp;
using ActorBroker.ZooKeeper;
using Akka.Configuration;
using Akka.Persistence.Sql;

namespace ActorBroker.Node;

/// <summary>
/// Builds the node's configuration: Node's reference.conf, then the profile, then <c>--set</c>
/// overrides, then environment variables, as ONE HOCON document (so a profile's
/// <c>${actorbroker.node.data-dir}</c> sees the final value), falling back to every component's
/// embedded reference.conf. Only the node knows every component, so only it composes them.
/// </summary>
public static class NodeConfiguration
{
    /// <summary>Environment variables and the HOCON key each one sets.</summary>
    public static readonly IReadOnlyList<(string Variable, string Path, string Meaning)> EnvironmentVariables =
    [
        ("ACTORBROKER_DATA_DIR", "actorbroker.node.data-dir", "local data directory (default ./data)"),
        ("ACTORBROKER_HOST", "actorbroker.stomp.host", "listen address of STOMP and Akka remoting (default 127.0.0.1)"),
        ("ACTORBROKER_STOMP_PORT", "actorbroker.stomp.port", "STOMP port (default 61613)"),
        ("ACTORBROKER_CLUSTER_PORT", "akka.remote.dot-netty.tcp.port", "Akka remoting port (default 0 = any free port)"),
        ("ACTORBROKER_SEED_NODES", "akka.cluster.seed-nodes", "comma-separated host:port of seed nodes' remoting"),
        ("ACTORBROKER_SHARED_DIR", "actorbroker.node.shared-dir", "directory shared by all nodes (shared-file profile)"),
        ("ACTORBROKER_SQL_CONNECTION", "actorbroker.node.sql-connection", "PostgreSQL connection string (sql-postgres profile)"),
        ("ACTORBROKER_ZOOKEEPER", "actorbroker.node.zookeeper", "ZooKeeper connect string host:port,... (replicated profile)"),
        ("ACTORBROKER_RAFT_PORT", "actorbroker.node.raft-port", "this node's Raft port; its write-forwarding port is this + 1 (replicated profiles)"),
        ("ACTORBROKER_RAFT_MEMBERS", "actorbroker.node.raft-members", "comma-separated host:port of every Raft member, same list on every node (replicated profiles)"),
    ];

    /// <summary>All component defaults, lowest precedence.</summary>
    public static Config ReferenceConfigs =>
        CoreConfig.Default
            .WithFallback(StompConfig.Default)
            .WithFallback(CoordinationConfig.Default)
            .WithFallback(ZooKeeperConfig.Default)
            .WithFallback(FileJournalConfig.Default)
            .WithFallback(RaftJournalConfig.Default)
            .WithFallback(SqlPersistence.DefaultConfiguration);

    /// <summary>Every reference.conf the node composes, its own included: the defaults <see cref="SettingKinds"/> checks against.</summary>
    public static Config AllReferences => ConfigurationFactory.ParseString(NodeReferenceText).WithFallback(ReferenceConfigs);

    public static string NodeReferenceText
    {
        get
        {
            using var stream = typeof(NodeConfiguration).Assembly.GetManifestResourceStream("ActorBroker.Node.reference.conf")
                ?? throw new InvalidOperationException("embedded ActorBroker.Node.reference.conf is missing");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>
    /// Composes the configuration. <paramref name="environment"/> is passed in (not read here) so tests can supply one.
    /// The data and shared directories are made absolute, so every path derived from them is too.
    /// </summary>
    public static Config Build(string profileText, IEnumerable<KeyValuePair<string, string>> overrides, IReadOnlyDictionary<string, string?> environment)
    {
        var document = new StringBuilder()
            .AppendLine(NodeReferenceText)
            .AppendLine(profileText);
        foreach (var (path, value) in overrides)
            document.Append(path).Append(" = ").AppendLine(HoconValue(value));
        foreach (var (variable, path, _) in EnvironmentVariables)
        {
            if (!environment.TryGetValue(variable, out var value) || string.IsNullOrWhiteSpace(value)) continue;
            var hocon = variable switch
            {
                "ACTORBROKER_SEED_NODES" => SeedList(value),
                "ACTORBROKER_RAFT_MEMBERS" => QuotedList(SplitList(value)),
                _ => Quote(value),
            };
            document.Append(path).Append(" = ").AppendLine(hocon);
            if (variable == "ACTORBROKER_HOST")
                document.Append("akka.remote.dot-netty.tcp.hostname = ").AppendLine(Quote(value));
        }

        var first = ConfigurationFactory.ParseString(document.ToString());
        foreach (var key in new[] { "actorbroker.node.data-dir", "actorbroker.node.shared-dir" })
        {
            var dir = first.GetString(key);
            if (!string.IsNullOrWhiteSpace(dir))
                document.Append(key).Append(" = ").AppendLine(Quote(Path.GetFullPath(dir)));
        }

        AppendRaftEndpoints(document, first);
        return ConfigurationFactory.ParseString(document.ToString()).WithFallback(ReferenceConfigs);
    }

    /// <summary>
    /// The configuration for a new actor system after this node was downed (<c>restart-when-downed</c>): the configured
    /// seed nodes (this node first when none are configured), then every other member the downed incarnation last knew,
    /// so it rejoins the cluster it was in even when its seed list names only itself. With this node as the first seed,
    /// Akka joins whichever seed answers and forms a cluster of its own only when none does within seed-node-timeout.
    /// </summary>
    public static Config WithRejoinSeeds(Config config, IEnumerable<Akka.Actor.Address> lastMembers)
    {
        var selfAddress = $"akka.tcp://{NodeSettings.SystemName}@{config.GetString("akka.remote.dot-netty.tcp.hostname")}:" +
                          config.GetInt("akka.remote.dot-netty.tcp.port");
        var configured = config.GetStringList("akka.cluster.seed-nodes");
        var seeds = (configured.Count > 0 ? configured : [selfAddress])
            .Concat(lastMembers.Select(a => a.ToString()).Where(a => a != selfAddress))
            .Distinct()
            .ToList();
        return ConfigurationFactory.ParseString("akka.cluster.seed-nodes = " + QuotedList(seeds)).WithFallback(config);
    }

    /// <summary>
    /// Derives the Raft journal's endpoints from <c>actorbroker.node.raft-members</c> and <c>raft-port</c> (when set):
    /// every member's write-forwarding endpoint is its Raft port + 1, and this node is the member at
    /// <c>actorbroker.stomp.host</c>:<c>raft-port</c>. HOCON has no arithmetic, so the node computes them once here.
    /// </summary>
    private static void AppendRaftEndpoints(StringBuilder document, Config first)
    {
        var members = first.HasPath("actorbroker.node.raft-members") ? first.GetStringList("actorbroker.node.raft-members") : [];
        if (members.Count > 0)
        {
            var forwarding = members.Select(member =>
            {
                var colon = member.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(member[(colon + 1)..], out var port) || port is <= 0 or >= 65535)
                    throw new ConfigurationException($"[actorbroker.node.raft-members] entry [{member}] is not host:port (port 1-65534)");
                return $"{member[..colon]}:{port + 1}";
            });
            document.Append("actorbroker.persistence.raft.members = ").AppendLine(QuotedList(members));
            document.Append("actorbroker.persistence.raft.forwarding-endpoints = ").AppendLine(QuotedList(forwarding));
        }

        var raftPort = first.GetInt("actorbroker.node.raft-port", 0);
        if (raftPort > 0)
            document.Append("actorbroker.persistence.raft.self = ").AppendLine(Quote($"{first.GetString("actorbroker.stomp.host", "127.0.0.1")}:{raftPort}"));
    }

    private static IReadOnlyList<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string QuotedList(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(Quote)) + "]";

    /// <summary>A --set value is used as HOCON when it parses as one value (numbers, durations, lists), else quoted.</summary>
    private static string HoconValue(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.StartsWith('[') || trimmed.StartsWith('{') || trimmed.StartsWith('"'))
            return trimmed;
        return Quote(trimmed);
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string SeedList(string hostPorts)
    {
        var seeds = hostPorts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(hp => Quote($"akka.tcp://{NodeSettings.SystemName}@{hp}"));
        return "[" + string.Join(", ", seeds) + "]";
    }
}
