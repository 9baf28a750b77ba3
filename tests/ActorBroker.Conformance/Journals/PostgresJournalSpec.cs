using ActorBroker.Conformance.Leases;
using ActorBroker.Testing;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Journals;

/// <summary>
/// The journal suite against Akka.Persistence.Sql on a real throw-away PostgreSQL (shared collection fixture);
/// every test gets its own database.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgresJournalSpec(ITestOutputHelper output, PostgreSqlServer server)
    : JournalConformanceSpec(SqlJournalHocon.Postgres(NewDatabase(server)), nameof(PostgresJournalSpec), output)
{
    protected override bool KeepsEventAdapterManifestAndWriterGuid => false;

    // The TestKit starts the actor system in its constructor, so the database must exist before the base call.
    private static string NewDatabase(PostgreSqlServer server)
    {
        server.StartAsync().GetAwaiter().GetResult(); // a lease outage spec may have left it stopped on failure
        return server.CreateDatabaseAsync($"journal_{Guid.NewGuid():N}").GetAwaiter().GetResult();
    }
}
