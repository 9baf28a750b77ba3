using ActorBroker.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Leases;

/// <summary>The lease contract for <c>SqlLease</c> on a real PostgreSQL server: each spec gets its own database.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SqlLeasePostgresSpec(ITestOutputHelper output, PostgreSqlServer server) : LeaseConformanceSpec(output)
{
    private string _connectionString = "";

    protected override string ConfigPath => "actorbroker.coordination.sql-lease";

    protected override string LeaseSection(string owner) => $"provider = postgresql\nconnection-string = \"{_connectionString}\"";

    public override async Task InitializeAsync()
    {
        await server.StartAsync(); // a previous spec's outage test may have left it stopped on failure
        _connectionString = await server.CreateDatabaseAsync($"lease_{Guid.NewGuid():N}");
    }

    protected override Task MakeStoreUnreachableAsync() => server.StopAsync();

    protected override Task RestoreStoreAsync() => server.StartAsync();

    [Fact(DisplayName = "SQL lease should refuse to start with a clear error when the table name is not an identifier")]
    public void RejectsInjectableTableName()
    {
        var error = AssertConfigurationError(() => StartNode("x", LeaseSection("x") + "\ntable-name = \"lease; DROP TABLE x\""));
        Assert.Contains("actorbroker.coordination.sql-lease.table-name", error.Message);
    }
}
