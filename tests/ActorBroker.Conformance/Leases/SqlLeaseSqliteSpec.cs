using ActorBroker.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Leases;

/// <summary>The lease contract for <c>SqlLease</c> on SQLite: each spec gets its own database file in a temp directory.</summary>
public sealed class SqlLeaseSqliteSpec(ITestOutputHelper output) : LeaseConformanceSpec(output)
{
    private readonly TempDirectory _root = new("actorbroker-sqlite-lease");

    private string DatabaseDirectory => _root.Combine("db");

    private string MovedAway => _root.Combine("db-gone");

    protected override string ConfigPath => "actorbroker.coordination.sql-lease";

    protected override string LeaseSection(string owner) =>
        $"provider = sqlite\nconnection-string = \"Data Source={Path.Combine(DatabaseDirectory, "lease.db")}\"";

    public override Task InitializeAsync()
    {
        Directory.CreateDirectory(DatabaseDirectory);
        return Task.CompletedTask;
    }

    // The database file's directory disappears; a plain file takes its place so SQLite cannot recreate the database.
    protected override Task MakeStoreUnreachableAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Move(DatabaseDirectory, MovedAway);
        File.WriteAllText(DatabaseDirectory, "not a directory");
        return Task.CompletedTask;
    }

    protected override Task RestoreStoreAsync()
    {
        File.Delete(DatabaseDirectory);
        Directory.Move(MovedAway, DatabaseDirectory);
        return Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _root.Dispose();
    }

    [Fact(DisplayName = "SQL lease should refuse to start with a clear error when the connection string is missing")]
    public void RejectsMissingConnectionString()
    {
        var error = AssertConfigurationError(() => StartNode("x", "provider = sqlite\nconnection-string = \"\""));
        Assert.Contains("actorbroker.coordination.sql-lease.connection-string", error.Message);
    }

    [Fact(DisplayName = "SQL lease should refuse to start with a clear error naming the supported providers")]
    public void RejectsUnknownProvider()
    {
        var error = AssertConfigurationError(() => StartNode("x", "provider = oracle\nconnection-string = \"x\""));
        Assert.Contains("[postgresql, sqlite]", error.Message);
    }
}
