using System.Buffers.Binary;
using System.Net.Sockets;
using Xunit;

namespace ActorBroker.Testing;

/// <summary>
/// One real ZooKeeper 3.8 server process (the Debian package <c>zookeeper</c>, started without its init scripts), on a
/// free 127.0.0.1 client port with its data in a temp directory. Standalone by default; <see cref="ZooKeeperEnsemble"/>
/// builds quorum members from it. <c>tickTime</c> is 500 ms so sessions may be as short as 1 s (2 ticks) and at most
/// 10 s (20 ticks). <see cref="StopAsync"/>/<see cref="StartAsync"/> restart on the same port with the same data.
/// Every process is stopped by its own PID.
/// </summary>
public sealed class ZooKeeperServer : IAsyncDisposable
{
    public const int TickTimeMs = 500;
    private const string ConfDirectory = "/etc/zookeeper/conf";
    private const string ServerJar = "/usr/share/java/zookeeper.jar";
    private const string LoggerJar = "/usr/share/java/slf4j-simple.jar";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _root = new("actorbroker-zk");
    private readonly string _mainClass;
    private ProcessHandle? _process;

    private ZooKeeperServer(int clientPort, string mainClass, IEnumerable<string> extraConfig, int? myId)
    {
        ClientPort = clientPort;
        _mainClass = mainClass;
        Directory.CreateDirectory(DataDirectory);
        if (myId is { } id) File.WriteAllText(Path.Combine(DataDirectory, "myid"), id.ToString());
        File.WriteAllLines(ConfigFile,
        [
            $"tickTime={TickTimeMs}",
            "initLimit=20",
            "syncLimit=10",
            $"dataDir={DataDirectory}",
            $"clientPort={ClientPort}",
            "clientPortAddress=127.0.0.1",
            "admin.enableServer=false",
            "maxClientCnxns=0",
            .. extraConfig,
        ]);
        // Last resort if the test host dies without disposing: never leave a server behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => _process?.Kill();
    }

    /// <summary>A standalone server (not started yet; call <see cref="StartAsync"/>).</summary>
    public static ZooKeeperServer Standalone() =>
        new(FreePort.Next(), "org.apache.zookeeper.server.ZooKeeperServerMain", [], myId: null);

    /// <summary>A quorum member (used by <see cref="ZooKeeperEnsemble"/>).</summary>
    internal static ZooKeeperServer QuorumMember(int clientPort, int myId, IEnumerable<string> serverLines) =>
        new(clientPort, "org.apache.zookeeper.server.quorum.QuorumPeerMain", serverLines, myId);

    public int ClientPort { get; }

    /// <summary>"127.0.0.1:port" of this server.</summary>
    public string ConnectString => $"127.0.0.1:{ClientPort}";

    public string DataDirectory => _root.Combine("data");

    private string ConfigFile => _root.Combine("zoo.cfg");

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>PID of the server's JVM, or 0 when stopped.</summary>
    public int Pid => _process?.Pid ?? 0;

    /// <summary>Starts the JVM and, unless told otherwise, returns once it serves sessions.</summary>
    public async Task StartAsync(bool waitUntilServing = true)
    {
        if (IsRunning) return;
        var classPath = string.Join(':', new[] { ConfDirectory, ServerJar, LoggerJar }.Where(p => File.Exists(p) || Directory.Exists(p)));
        _process = ProcessHandle.Start("java",
        [
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp", classPath, _mainClass, ConfigFile,
        ], workingDirectory: _root.Path);
        if (waitUntilServing) await WaitUntilServingAsync(StartTimeout);
    }

    /// <summary>Polls until a session handshake succeeds (a quorum member only serves once the quorum formed).</summary>
    public async Task WaitUntilServingAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string lastError = "never tried";
        while (DateTime.UtcNow < deadline)
        {
            if (_process is null || _process.HasExited)
                throw new InvalidOperationException($"ZooKeeper on port {ClientPort} exited during start-up:\n{_process?.Output}");
            (var serving, lastError) = await TryHandshakeAsync();
            if (serving) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"ZooKeeper on port {ClientPort} did not serve within {timeout}: {lastError}\n{_process?.Output}");
    }

    /// <summary>SIGKILL to the server's PID (a crash: no clean shutdown); returns once it is gone.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        _process.Kill();
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        _process.Dispose();
        _process = null;
    }

    /// <summary>SIGSTOP / SIGCONT to the server's PID: a frozen server keeps its sockets open but answers nothing.</summary>
    public void Freeze() => ProcessHandle.Signal(Pid, 19);

    public void Thaw() => ProcessHandle.Signal(Pid, 18);

    /// <summary>A fresh znode path for one spec, e.g. "/spec-3f2a...", so specs sharing a server never see each other.</summary>
    public static string NewNamespace(string prefix = "spec") => $"/{prefix}-{Guid.NewGuid():N}";

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) Thaw();
        await StopAsync();
        _root.Dispose();
    }

    /// <summary>
    /// A raw ConnectRequest (protocol 0, zxid 0, timeout 1 s, new session, 16 zero password bytes, readOnly false)
    /// followed by closeSession: "serving" means the server answered with a session.
    /// </summary>
    private async Task<(bool Serving, string Error)> TryHandshakeAsync()
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.ConnectAsync("127.0.0.1", ClientPort, cts.Token);
            var request = new byte[4 + 4 + 8 + 4 + 8 + 4 + 16 + 1];
            BinaryPrimitives.WriteInt32BigEndian(request, request.Length - 4);
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(16), 1000); // timeOut after length, protocolVersion, lastZxidSeen
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(28), 16); // passwd length after timeOut, sessionId
            await socket.SendAsync(request, cts.Token);
            var lengthPrefix = new byte[4];
            var read = await socket.ReceiveAsync(lengthPrefix, cts.Token);
            if (read == 0) return (false, "connection closed without a session (no quorum yet?)");
            var close = new byte[12];
            BinaryPrimitives.WriteInt32BigEndian(close, 8);
            BinaryPrimitives.WriteInt32BigEndian(close.AsSpan(4), 1);
            BinaryPrimitives.WriteInt32BigEndian(close.AsSpan(8), -11);
            await socket.SendAsync(close, cts.Token);
            return (true, "");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return (false, e.Message);
        }
    }
}

/// <summary>
/// A 3 (or N) member ZooKeeper quorum on loopback: free client, quorum and election ports per member.
/// Members can be stopped and restarted by PID to test client failover.
/// </summary>
public sealed class ZooKeeperEnsemble : IAsyncDisposable
{
    private ZooKeeperEnsemble(IReadOnlyList<ZooKeeperServer> members) => Members = members;

    public IReadOnlyList<ZooKeeperServer> Members { get; }

    /// <summary>"127.0.0.1:p1,127.0.0.1:p2,..." of all members.</summary>
    public string ConnectString => string.Join(',', Members.Select(m => m.ConnectString));

    public static async Task<ZooKeeperEnsemble> StartAsync(int size = 3)
    {
        var clientPorts = Enumerable.Range(0, size).Select(_ => FreePort.Next()).ToArray();
        var serverLines = Enumerable.Range(1, size)
            .Select(id => $"server.{id}=127.0.0.1:{FreePort.Next()}:{FreePort.Next()}")
            .ToArray();
        var members = Enumerable.Range(1, size)
            .Select(id => ZooKeeperServer.QuorumMember(clientPorts[id - 1], id, serverLines))
            .ToArray();
        var ensemble = new ZooKeeperEnsemble(members);
        try
        {
            foreach (var member in members) await member.StartAsync(waitUntilServing: false);
            foreach (var member in members) await member.WaitUntilServingAsync(TimeSpan.FromSeconds(90));
            return ensemble;
        }
        catch
        {
            await ensemble.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members) await member.DisposeAsync();
    }
}

/// <summary>
/// xunit collection fixture: one standalone ZooKeeper server for a non-parallel collection of specs, each of which
/// works under its own <see cref="ZooKeeperServer.NewNamespace"/> path.
/// </summary>
public sealed class ZooKeeperServerFixture : IAsyncLifetime
{
    public ZooKeeperServer Server { get; } = ZooKeeperServer.Standalone();

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
