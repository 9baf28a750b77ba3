using Xunit.Abstractions;

namespace ActorBroker.Conformance.Journals;

/// <summary>The journal suite against Akka.Persistence.Sql on SQLite; a fresh database file per test.</summary>
public sealed class SqliteJournalSpec : JournalConformanceSpec
{
    private readonly string _database;

    public SqliteJournalSpec(ITestOutputHelper output) : this(NewDatabasePath(), output) { }

    private SqliteJournalSpec(string database, ITestOutputHelper output)
        : base(SqlJournalHocon.Sqlite(database), nameof(SqliteJournalSpec), output) => _database = database;

    private static string NewDatabasePath()
    {
        var root = Path.Combine(Path.GetTempPath(), "actorbroker-sqlite-journal");
        Directory.CreateDirectory(root);
        return Path.Combine(root, $"{Guid.NewGuid():N}.db");
    }

    protected override bool KeepsEventAdapterManifestAndWriterGuid => false;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm", _database + "-journal" })
            if (File.Exists(file)) File.Delete(file);
    }
}
