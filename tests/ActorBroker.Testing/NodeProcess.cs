using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace ActorBroker.Testing;

/// <summary>
/// A real ActorBroker node process started from a hocon/ profile, for process specs. It is
/// stopped by its own PID: SIGKILL (<see cref="Kill"/>), SIGSTOP/SIGCONT (<see cref="Freeze"/>,
/// <see cref="Thaw"/>) or SIGTERM (<see cref="StopAsync"/>). Output is captured for diagnostics.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, int stompPort, string dataDirectory)
    {
        _process = process;
        StompPort = stompPort;
        DataDirectory = dataDirectory;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;
    public int StompPort { get; }
    public string DataDirectory { get; }
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the node printed so far.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>
    /// Starts <c>dotnet ActorBroker.Node.dll --config hocon/PROFILE</c> with the given environment
    /// (ACTORBROKER_DATA_DIR and ACTORBROKER_STOMP_PORT are required entries).
    /// </summary>
    public static NodeProcess Start(string profile, IReadOnlyDictionary<string, string> environment, params string[] extraArgs)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(RepositoryLayout.NodeDll);
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(Path.Combine(RepositoryLayout.Root, "hocon", profile));
        foreach (var arg in extraArgs) info.ArgumentList.Add(arg);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        info.Environment["ACTORBROKER_HOST"] = "127.0.0.1";
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the node process");
        return new NodeProcess(process, int.Parse(environment["ACTORBROKER_STOMP_PORT"]), environment["ACTORBROKER_DATA_DIR"]);
    }

    /// <summary>Waits until the node's STOMP port accepts TCP connections (it opens only on the master).</summary>
    public async Task WaitForStompPortAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await IsStompPortOpenAsync())
        {
            if (HasExited)
                throw new InvalidOperationException($"node pid {Pid} exited with {_process.ExitCode} before opening port {StompPort}:\n{Output}");
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
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"node pid {Pid} did not print [{text}] within {timeout}:\n{Output}");
            await Task.Delay(50);
        }
    }

    public void Kill() => Signal("KILL");
    public void Freeze() => Signal("STOP");
    public void Thaw() => Signal("CONT");

    /// <summary>SIGTERM, then SIGKILL if the node has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (HasExited) return;
        Signal("TERM");
        using var cts = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(20));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async Task WaitForExitAsync() => await _process.WaitForExitAsync();

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Signal("CONT");
            Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Signal(string signal)
    {
        if (HasExited) return;
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {Pid}") { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
