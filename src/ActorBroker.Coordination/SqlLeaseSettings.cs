using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>Database engines <see cref="SqlLease"/> speaks.</summary>
public enum SqlLeaseProvider
{
    PostgreSql,
    Sqlite,
}

/// <summary>Settings of <see cref="SqlLease"/>, read once from its config section (see reference.conf).</summary>
public sealed partial class SqlLeaseSettings
{
    /// <summary>Default config path; <c>akka.cluster.singleton.use-lease</c> points here.</summary>
    public const string ConfigPath = "actorbroker.coordination.sql-lease";

    private SqlLeaseSettings(SqlLeaseProvider provider, string connectionString, string tableName, LeaseTiming timing)
    {
        Provider = provider;
        ConnectionString = connectionString;
        TableName = tableName;
        Timing = timing;
    }

    public SqlLeaseProvider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>Lease table, optionally schema-qualified; created when missing.</summary>
    public string TableName { get; }

    public LeaseTiming Timing { get; }

    /// <summary>Reads and validates the lease section; throws <see cref="ConfigurationException"/> naming the key.</summary>
    public static SqlLeaseSettings Create(LeaseSettings settings, string configPath = ConfigPath)
    {
        var config = settings.LeaseConfig.WithFallback(CoordinationConfig.Default.GetConfig(ConfigPath));
        var timing = LeaseTiming.Create(settings, configPath);

        var providerName = config.GetString("provider", "");
        var provider = providerName.ToLowerInvariant() switch
        {
            "postgresql" => SqlLeaseProvider.PostgreSql,
            "sqlite" => SqlLeaseProvider.Sqlite,
            _ => throw new ConfigurationException(
                $"Invalid [{configPath}.provider] [{providerName}], supported values [postgresql, sqlite]"),
        };

        var connectionString = config.GetString("connection-string", "");
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ConfigurationException($"[{configPath}.connection-string] is missing: the {provider} lease needs a database");

        var tableName = config.GetString("table-name", "");
        if (!TableNamePattern().IsMatch(tableName))
            throw new ConfigurationException(
                $"Invalid [{configPath}.table-name] [{tableName}]: use a plain identifier, optionally schema-qualified (letters, digits, _)");

        return new SqlLeaseSettings(provider, connectionString, tableName, timing);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")]
    private static partial Regex TableNamePattern();
}
