using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Conformance.Leases;

/// <summary>
/// Every spec that uses the shared throw-away PostgreSQL server joins this collection: one server per test run, specs run
/// one after another (outage tests stop the server), each spec in its own database.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgreSqlCollection : ICollectionFixture<PostgreSqlServer>
{
    public const string Name = "PostgreSQL";
}
