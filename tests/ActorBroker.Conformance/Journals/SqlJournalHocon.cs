using Akka.Configuration;
using Akka.Persistence.Sql;

namespace ActorBroker.Conformance.Journals;

/// <summary>
/// Tested journal + snapshot-store HOCON for Akka.Persistence.Sql (linq2db) on SQLite and PostgreSQL, the
/// fragments of docs/journal-format.md. Tables are created on first use (auto-initialize). What stops a stale
/// master forking history here is the journal table's unique key on (persistence_id, sequence_number): its
/// write of an existing sequence number fails instead of adding a second version of the event.
/// </summary>
public static class SqlJournalHocon
{
    /// <summary>
    /// SQLite via Microsoft.Data.Sqlite (provider "SQLite.MS"). One writer stream (parallelism = 1): SQLite
    /// serialises writers anyway and parallel writers only add "database is locked" retries; batches of up to
    /// 1000 rows amortise its per-transaction fsync.
    /// </summary>
    public static Config Sqlite(string databaseFile) => Build("SQLite.MS", $"Data Source={databaseFile};Pooling=True", parallelism: 1);

    /// <summary>
    /// PostgreSQL (provider "PostgreSQL.15"). Three writer streams, each committing batches of up to 1000 rows:
    /// with a local server one commit (one WAL flush) per batch is what bounds throughput.
    /// </summary>
    public static Config Postgres(string connectionString) => Build("PostgreSQL.15", connectionString, parallelism: 3);

    private static Config Build(string provider, string connectionString, int parallelism) =>
        ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  connection-string = "{{connectionString}}"
                  provider-name = "{{provider}}"
                  auto-initialize = on
                  # rows per write transaction; default 100, larger batches pay off on a local/fast database
                  batch-size = 1000
                  db-round-trip-max-batch-size = 1000
                  # pending rows before writes are refused (default 5000); 64 writers x PersistAsync bursts need more
                  buffer-size = 20000
                  parallelism = {{parallelism}}
                  replay-batch-size = 1000
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  connection-string = "{{connectionString}}"
                  provider-name = "{{provider}}"
                  auto-initialize = on
                }
              }
            }
            """).WithFallback(SqlPersistence.DefaultConfiguration);
}
