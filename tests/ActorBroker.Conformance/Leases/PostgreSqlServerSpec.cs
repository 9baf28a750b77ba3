using ActorBroker.Testing;
using Npgsql;
using Xunit;

namespace ActorBroker.Conformance.Leases;

/// <summary>The fixture itself: a real server that can be stopped and started again without losing data.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlServerSpec(PostgreSqlServer server)
{
    [Fact(DisplayName = "PostgreSQL fixture should survive a stop and start with its databases intact")]
    public async Task SurvivesStopAndStart()
    {
        var connectionString = await server.CreateDatabaseAsync($"fixture_{Guid.NewGuid():N}");
        await Execute(connectionString, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)");

        await server.StopAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => Execute(connectionString, "SELECT 1"));

        await server.StartAsync();
        Assert.Equal(42, await Execute(connectionString, "SELECT v FROM t"));
    }

    private static async Task<object?> Execute(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
