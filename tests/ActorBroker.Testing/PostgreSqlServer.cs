using Npgsql;
using Xunit;

namespace ActorBroker.Testing;

/// <summary>
/// A real, throw-away PostgreSQL server (the one installed on the machine image — there is no container engine) for one
/// test collection: <c>initdb</c> into a temp directory, <c>postgres</c> on a free 127.0.0.1 port with trust auth.
/// Use it as an xunit collection fixture (<c>ICollectionFixture&lt;PostgreSqlServer&gt;</c>; xunit needs the
/// <c>[CollectionDefinition]</c> in the test assembly itself) in a collection with <c>DisableParallelization = true</c>,
/// and give every spec its own database with <see cref="CreateDatabaseAsync"/>.
/// Outage tests call <see cref="StopAsync"/> and <see cref="StartAsync"/> (same port, same data).
/// Dispose stops the server by its PID and removes the directory.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root, so as root every command runs as the <c>postgres</c> OS user and the temp directory
/// is handed to that user. The server's PID is read from <c>postmaster.pid</c> (authoritative even when a launcher such as
/// <c>runuser</c> forks), and only that PID is ever signalled.
/// </remarks>
public class PostgreSqlServer : IAsyncLifetime
{
    private const int SigInt = 2; // PostgreSQL "fast shutdown": aborts sessions, checkpoints, exits.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private const string ServiceUser = "postgres";

    private readonly TempDirectory _root = new("actorbroker-pg");
    private readonly string _binDirectory = FindBinDirectory();
    private ProcessHandle? _launcher;
    private int _serverPid;

    public PostgreSqlServer()
    {
        Port = FreePort.Next();
        // Last resort if the test host dies without disposing fixtures: still never leave a server behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillServer();
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>The data directory (inside the fixture's temp directory).</summary>
    public string DataDirectory => _root.Combine("data");

    /// <summary>True between a successful <see cref="StartAsync"/> and <see cref="StopAsync"/>.</summary>
    public bool IsRunning => _serverPid != 0;

    /// <summary>
    /// Extra <c>-c name=value</c> server settings. Override to change them; the defaults favour many short-lived test
    /// connections (every ActorSystem has its own connection pool).
    /// </summary>
    protected virtual IEnumerable<string> ServerSettings => ["max_connections=300", "log_min_messages=warning"];

    /// <summary>Connection string for <paramref name="database"/> as the superuser <c>postgres</c> (trust auth, no password).</summary>
    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder
        {
            Host = Host,
            Port = Port,
            Username = ServiceUser,
            Database = database,
            Timeout = 5,
            CommandTimeout = 10,
        }.ConnectionString;

    public async Task InitializeAsync()
    {
        if (Environment.IsPrivilegedProcess)
            await ProcessHandle.RunAsync("chown", [$"{ServiceUser}:", _root.Path], TimeSpan.FromSeconds(10));

        await ProcessHandle.RunAsync(
            AsServiceUser(Path.Combine(_binDirectory, "initdb")),
            [.. AsServiceUserArgs(Path.Combine(_binDirectory, "initdb")),
             "-D", DataDirectory, "--auth=trust", "-U", ServiceUser, "-E", "UTF8", "--no-sync", "--no-instructions"],
            TimeSpan.FromSeconds(120));

        await StartAsync();
    }

    /// <summary>Starts the server (again) on <see cref="Port"/> and returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) return;

        var postgres = Path.Combine(_binDirectory, "postgres");
        var args = new List<string>(AsServiceUserArgs(postgres))
        {
            "-D", DataDirectory, "-p", Port.ToString(), "-k", DataDirectory, "-c", "listen_addresses=127.0.0.1",
        };
        foreach (var setting in ServerSettings) args.AddRange(["-c", setting]);
        _launcher = ProcessHandle.Start(AsServiceUser(postgres), args);

        var deadline = DateTime.UtcNow + StartTimeout;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_launcher.HasExited)
                throw new InvalidOperationException($"PostgreSQL exited during start-up:\n{_launcher.Output}");
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
                await connection.OpenAsync();
                _serverPid = ReadServerPid() ?? throw new InvalidOperationException("postmaster.pid missing after start");
                return;
            }
            catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or IOException)
            {
                lastError = e;
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"PostgreSQL did not accept connections within {StartTimeout}: {lastError?.Message}\n{_launcher.Output}");
    }

    /// <summary>Fast shutdown (SIGINT to the server's PID); returns once the server process is gone.</summary>
    public async Task StopAsync()
    {
        if (!IsRunning) return;
        var pid = _serverPid;
        ProcessHandle.Signal(pid, SigInt);
        var deadline = DateTime.UtcNow + StopTimeout;
        while (IsAlive(pid) && DateTime.UtcNow < deadline) await Task.Delay(50);
        if (IsAlive(pid)) ProcessHandle.Signal(pid, 9);
        if (_launcher is not null) await _launcher.WaitForExitAsync(StopTimeout);
        _launcher?.Dispose();
        _launcher = null;
        _serverPid = 0;
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Creates a fresh database (name must be a plain identifier) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        if (name.Length == 0 || name.Length > 63 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw new ArgumentException($"Database name [{name}] must be 1-63 ASCII letters, digits or underscores", nameof(name));

        await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        _root.Dispose();
    }

    private void KillServer()
    {
        if (_serverPid != 0) ProcessHandle.Signal(_serverPid, 9);
        _launcher?.Kill();
    }

    private int? ReadServerPid()
    {
        var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return null;
        using var reader = new StreamReader(new FileStream(pidFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        return int.TryParse(reader.ReadLine(), out var pid) ? pid : null;
    }

    private static bool IsAlive(int pid) => ProcessHandle.Signal(pid, 0);

    // As root: setpriv exec()s the server in place (our child PID is the postmaster); runuser as the fallback forks,
    // which is why the PID is read from postmaster.pid either way.
    private static readonly string? SetPriv = FindOnPath("setpriv");

    private static string AsServiceUser(string program) =>
        !Environment.IsPrivilegedProcess ? program : SetPriv ?? "runuser";

    private static IEnumerable<string> AsServiceUserArgs(string program) =>
        !Environment.IsPrivilegedProcess ? []
        : SetPriv is not null
            ? ["--reuid", ServiceUser, "--regid", ServiceUser, "--init-groups", "--", program]
            : ["-u", ServiceUser, "--", program];

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
        .Where(dir => dir.Length > 0)
        .Select(dir => Path.Combine(dir, program))
        .FirstOrDefault(File.Exists);

    /// <summary>
    /// The directory holding <c>initdb</c> and <c>postgres</c>: <c>ACTORBROKER_PG_BIN</c> if set, else PATH, else the
    /// newest <c>/usr/lib/postgresql/*/bin</c> (Debian layout).
    /// </summary>
    private static string FindBinDirectory()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ACTORBROKER_PG_BIN");
        if (!string.IsNullOrEmpty(fromEnv)) return fromEnv;

        if (FindOnPath("initdb") is { } initdb && Path.GetDirectoryName(initdb) is { } dir && File.Exists(Path.Combine(dir, "postgres")))
            return dir;

        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            var newest = Directory.GetDirectories(debianRoot)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null) return newest.Dir;
        }

        throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin; set ACTORBROKER_PG_BIN");
    }
}
