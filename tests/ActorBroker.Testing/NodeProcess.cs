using System.Net.Sockets;

namespace ActorBroker.Testing;

/// <summary>
/// A real ActorBroker node process started from a hocon/ profile, for process specs. It is signalled
/// by its own PID only: SIGKILL (<see cref="Kill"/>), SIGSTOP/SIGCONT (<see cref="Freeze"/>,
/// <see cref="Thaw"/>), SIGTERM (<see cref="StopAsync"/>).
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private const int SigTerm = 15, SigCont = 18, SigStop = 19;
    private readonly ProcessHandle _process;
    private bool _disposed;

    private NodeProcess(ProcessHandle process, int stompPort, string dataDirectory)
    {
        _process = process;
        StompPort = stompPort;
        DataDirectory = dataDirectory;
    }

    public int Pid => _process.Pid;
    public int StompPort { get; }
    public string DataDirectory { get; }
    public bool HasExited => _process.HasExited;

    /// <summary>The node's exit code once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until the node exits on its own; false after <paramref name="timeout"/>.</summary>
    public Task<bool> WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync(timeout);

    /// <summary>The last lines the node printed.</summary>
    public string Output => _process.Output;

    /// <summary>The node's milestone lines (role, downing, lease, Raft leadership), kept beyond the tail.</summary>
    public string Milestones => _process.Milestones;

    /// <summary>
    /// Starts <c>dotnet ActorBroker.Node.dll --config hocon/PROFILE</c> with <paramref name="environment"/>, which must
    /// name ACTORBROKER_DATA_DIR and ACTORBROKER_STOMP_PORT. Listens on 127.0.0.1 only.
    /// </summary>
    public static NodeProcess Start(string profile, IReadOnlyDictionary<string, string> environment, params string[] extraArgs)
    {
        var env = new Dictionary<string, string>(environment) { ["ACTORBROKER_HOST"] = "127.0.0.1" };
        var args = new List<string> { RepositoryLayout.NodeDll, "--config", Path.Combine(RepositoryLayout.Root, "hocon", profile) };
        args.AddRange(extraArgs);
        var process = ProcessHandle.Start("dotnet", args, environment: env);
        // Last resort if the test host is stopped without disposing: never leave a node behind (by its PID only).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            ProcessHandle.Signal(process.Pid, SigCont);
            process.Kill();
        };
        return new NodeProcess(process, int.Parse(env["ACTORBROKER_STOMP_PORT"]), env["ACTORBROKER_DATA_DIR"]);
    }

    /// <summary>Waits until the STOMP port accepts TCP connections (it opens only on the master).</summary>
    public async Task WaitForStompPortAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await IsStompPortOpenAsync())
        {
            if (HasExited)
                throw new InvalidOperationException($"node pid {Pid} exited before opening port {StompPort}:\n{Output}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"node pid {Pid}: STOMP port {StompPort} not open after {timeout}:\n{Output}");
            await Task.Delay(50);
        }
    }

    public async Task<bool> IsStompPortOpenAsync()
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", StompPort);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Waits until the node printed a line containing <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        try
        {
            await _process.WhenPrinted(text).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"node pid {Pid} did not print [{text}] within {timeout}:\n{Output}");
        }
    }

    public void Kill() => _process.Kill();
    public void Freeze() => ProcessHandle.Signal(Pid, SigStop);
    public void Thaw() => ProcessHandle.Signal(Pid, SigCont);

    /// <summary>SIGTERM (clean shutdown), then SIGKILL if the node is still running after <paramref name="grace"/>.</summary>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        if (HasExited) return true;
        ProcessHandle.Signal(Pid, SigTerm);
        if (await _process.WaitForExitAsync(grace)) return true;
        _process.Kill();
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!HasExited)
        {
            ProcessHandle.Signal(Pid, SigCont);
            _process.Kill();
            await _process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }
}
