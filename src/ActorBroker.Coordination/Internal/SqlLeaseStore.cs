using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ActorBroker.Coordination.Internal;

/// <summary>
/// Lease records as rows <c>(name, owner, incarnation, epoch, revision, expires_at_ms)</c>. Every write is one
/// conditional statement; <c>expires_at_ms</c> is set and compared with the DATABASE clock (<c>clock_timestamp()</c>,
/// <c>julianday('now')</c>), so the nodes' clocks play no part in who may take over. The version is the revision column.
/// The table is created on first use when missing.
/// </summary>
internal sealed class SqlLeaseStore : ILeaseStore<long>
{
    private readonly SqlLeaseSettings _settings;
    private readonly string _leaseName;
    private readonly long _ttlMs;
    private readonly string _now;
    private volatile bool _schemaReady;

    public SqlLeaseStore(SqlLeaseSettings settings, string leaseName, string owner, string incarnation)
    {
        _settings = settings;
        _leaseName = leaseName;
        Owner = owner;
        Incarnation = incarnation;
        _ttlMs = (long)settings.Timing.HeartbeatTimeout.TotalMilliseconds;
        // Database time in Unix milliseconds.
        _now = settings.Provider == SqlLeaseProvider.PostgreSql
            ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
            : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    }

    public string Owner { get; }

    public string Incarnation { get; }

    private string Table => _settings.TableName;

    public async Task<LeaseRecord<long>> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadAsync(connection, cancellationToken);
    }

    public async Task<CasResult<long>> TryAcquireAsync(LeaseRecord<long> seen, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        if (seen.Version == 0)
        {
            // No row yet: the first acquisition ever inserts it; a concurrent insert makes ours a no-op.
            var inserted = await ExecuteAsync(connection, cancellationToken,
                $"INSERT INTO {Table} (name, owner, incarnation, epoch, revision, expires_at_ms) " +
                $"VALUES (@name, @owner, @incarnation, 1, 1, {_now} + @ttl) ON CONFLICT (name) DO NOTHING");
            return inserted == 1
                ? CasResult<long>.Success(new LeaseRecord<long>(Owner, Incarnation, 1, 1, false))
                : CasResult<long>.Conflict(await ReadAsync(connection, cancellationToken));
        }

        var written = await QueryPairAsync(connection, cancellationToken,
            $"UPDATE {Table} SET owner = @owner, incarnation = @incarnation, epoch = epoch + 1, revision = revision + 1, " +
            $"expires_at_ms = {_now} + @ttl " +
            $"WHERE name = @name AND revision = @revision " +
            $"AND (owner IS NULL OR expires_at_ms <= {_now} OR @holderGone = 1 OR (owner = @owner AND incarnation = @incarnation)) " +
            "RETURNING epoch, revision",
            ("revision", seen.Version), ("holderGone", seen.IsExpired ? 1 : 0));
        return written is (var epoch, var revision)
            ? CasResult<long>.Success(new LeaseRecord<long>(Owner, Incarnation, epoch, revision, false))
            : CasResult<long>.Conflict(await ReadAsync(connection, cancellationToken));
    }

    public async Task<CasResult<long>> HeartbeatAsync(LeaseRecord<long> held, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var written = await QueryPairAsync(connection, cancellationToken,
            $"UPDATE {Table} SET revision = revision + 1, expires_at_ms = {_now} + @ttl " +
            "WHERE name = @name AND owner = @owner AND incarnation = @incarnation AND epoch = @epoch " +
            "RETURNING epoch, revision",
            ("epoch", held.Epoch));
        return written is (var epoch, var revision)
            ? CasResult<long>.Success(new LeaseRecord<long>(Owner, Incarnation, epoch, revision, false))
            : CasResult<long>.Conflict(await ReadAsync(connection, cancellationToken));
    }

    public async Task<bool> ReleaseAsync(LeaseRecord<long> held, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // The epoch stays in the row: the next acquisition continues from it.
        var updated = await ExecuteAsync(connection, cancellationToken,
            $"UPDATE {Table} SET owner = NULL, incarnation = NULL, revision = revision + 1, expires_at_ms = 0 " +
            "WHERE name = @name AND owner = @owner AND incarnation = @incarnation AND epoch = @epoch",
            ("epoch", held.Epoch));
        return updated == 1;
    }

    private async Task<LeaseRecord<long>> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = CreateCommand(connection,
            $"SELECT owner, incarnation, epoch, revision, CASE WHEN expires_at_ms <= {_now} THEN 1 ELSE 0 END " +
            $"FROM {Table} WHERE name = @name");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return new LeaseRecord<long>(null, null, 0, 0, false);

        var owner = reader.IsDBNull(0) ? null : reader.GetString(0);
        return new LeaseRecord<long>(owner, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2),
            reader.GetInt64(3), IsExpired: owner is not null && Convert.ToInt32(reader.GetValue(4)) == 1);
    }

    private async Task<(long, long)?> QueryPairAsync(
        DbConnection connection, CancellationToken cancellationToken, string sql, params (string Name, object Value)[] extra)
    {
        await using var command = CreateCommand(connection, sql, extra);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    private async Task<int> ExecuteAsync(
        DbConnection connection, CancellationToken cancellationToken, string sql, params (string Name, object Value)[] extra)
    {
        await using var command = CreateCommand(connection, sql, extra);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private DbCommand CreateCommand(DbConnection connection, string sql, params (string Name, object Value)[] extra)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_settings.Timing.OperationTimeout.TotalSeconds));
        foreach (var (name, value) in new (string, object)[]
                 {
                     ("name", _leaseName), ("owner", Owner), ("incarnation", Incarnation), ("ttl", _ttlMs),
                 }.Concat(extra))
        {
            if (!sql.Contains('@' + name)) continue;
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = _settings.Provider == SqlLeaseProvider.PostgreSql
            ? new NpgsqlConnection(_settings.ConnectionString)
            : new SqliteConnection(_settings.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (!_schemaReady) await EnsureSchemaAsync(connection, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task EnsureSchemaAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var sql = $"CREATE TABLE IF NOT EXISTS {Table} (" +
                  "name VARCHAR(512) NOT NULL PRIMARY KEY, owner VARCHAR(512) NULL, incarnation VARCHAR(64) NULL, " +
                  "epoch BIGINT NOT NULL, revision BIGINT NOT NULL, expires_at_ms BIGINT NOT NULL)";
        try
        {
            await ExecuteAsync(connection, cancellationToken, sql);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
        {
            // Another node created it at the same instant (CREATE TABLE IF NOT EXISTS is not race-free in PostgreSQL).
        }

        _schemaReady = true;
    }
}
