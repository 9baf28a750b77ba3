using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace ActorBroker.Testing;

/// <summary>
/// A child process a test started: output captured in a bounded buffer (for failure messages), and stopped only by its own
/// PID — never by name — so parallel test runs and other engineers' processes are never touched.
/// </summary>
public sealed class ProcessHandle : IDisposable
{
    private const int MaxCapturedLines = 200, MaxMilestones = 120;

    /// <summary>
    /// Lines worth keeping after the tail has scrolled past them: role changes, downing and resolver decisions, lease
    /// and Raft leadership, shutdown. A standby retrying the lease can fill the 200-line tail in a second.
    /// </summary>
    private static readonly Regex Milestone = new(
        @"MASTER|STANDBY|Welcome from|is up in the cluster|SBR|split brain|Down\]|as \[Down\]|UNREACHABLE|Marking node|Self removed|Leader is removing|fast-down|FastDown|" +
        @"lease|Lease|Raft|leader changed|CoordinatedShutdown invoked|Exiting|pause|Unhandled|Exception",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>
    /// A standby's lease retries (two lines every 60 ms): they match <see cref="Milestone"/> but pushed every role line
    /// out of the milestones within seconds (a CI failure's diagnostics kept nothing else). "Trying to acquire lease" and
    /// "Acquire lease result True" still count.
    /// </summary>
    private static readonly Regex LeaseRetry = new(@"Acquire lease result False|\[AcquiringLease -> AcquiringLease\]",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>Set ACTORBROKER_TEST_LOG_DIR to keep every line of every child process in a file per process.</summary>
    private static readonly string? LogDirectory = Environment.GetEnvironmentVariable("ACTORBROKER_TEST_LOG_DIR");

    private readonly Process _process;
    private readonly Queue<string> _output = new();
    private readonly Queue<string> _milestones = new();
    private readonly List<(string Text, TaskCompletionSource Printed)> _awaitedTexts = [];
    private StreamWriter? _log;

    private ProcessHandle(Process process) => _process = process;

    /// <summary>PID of the process started (not of anything it spawned).</summary>
    public int Pid { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once the process has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="fileName"/> with stdout and stderr captured.</summary>
    public static ProcessHandle Start(
        string fileName, IEnumerable<string> arguments, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var handle = new ProcessHandle(process);
        process.OutputDataReceived += (_, e) => handle.Capture(e.Data);
        process.ErrorDataReceived += (_, e) => handle.Capture(e.Data);
        if (!process.Start()) throw new InvalidOperationException($"Could not start [{fileName}]");
        handle.Pid = process.Id;
        if (LogDirectory is not null)
        {
            Directory.CreateDirectory(LogDirectory);
            handle._log = new StreamWriter(Path.Combine(LogDirectory, $"{Path.GetFileNameWithoutExtension(fileName)}-{process.Id}.log"))
                { AutoFlush = true };
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return handle;
    }

    /// <summary>Runs a command to completion and throws with its output when the exit code is not 0.</summary>
    public static async Task RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        using var handle = Start(fileName, arguments);
        if (!await handle.WaitForExitAsync(timeout))
        {
            handle.Kill();
            throw new TimeoutException($"[{fileName} {string.Join(' ', arguments)}] did not finish within {timeout}:\n{handle.Output}");
        }

        if (handle._process.ExitCode != 0)
            throw new InvalidOperationException(
                $"[{fileName} {string.Join(' ', arguments)}] exited with {handle._process.ExitCode}:\n{handle.Output}");
    }

    /// <summary>The last captured lines of stdout and stderr.</summary>
    public string Output
    {
        get { lock (_output) return string.Join('\n', _output); }
    }

    /// <summary>The last milestone lines (roles, downing, leases, Raft leadership), however long ago they were printed.</summary>
    public string Milestones
    {
        get { lock (_output) return string.Join('\n', _milestones); }
    }

    /// <summary>
    /// Completes once the process printed a line containing <paramref name="text"/>: at once if it is still in the tail or
    /// the milestones, otherwise when the line arrives.
    /// </summary>
    public Task WhenPrinted(string text)
    {
        lock (_output)
        {
            if (_output.Concat(_milestones).Any(line => line.Contains(text, StringComparison.Ordinal))) return Task.CompletedTask;
            var printed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _awaitedTexts.Add((text, printed));
            return printed.Task;
        }
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL to this PID only.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    /// <summary>Sends a POSIX signal (e.g. SIGINT = 2, SIGSTOP = 19, SIGCONT = 18) to <paramref name="pid"/>.</summary>
    public static bool Signal(int pid, int signal) => Native.kill(pid, signal) == 0;

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_output) _log?.Dispose();
    }

    private void Capture(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > MaxCapturedLines) _output.Dequeue();
            if (Milestone.IsMatch(line) && !LeaseRetry.IsMatch(line))
            {
                _milestones.Enqueue(line);
                while (_milestones.Count > MaxMilestones) _milestones.Dequeue();
            }

            for (var i = _awaitedTexts.Count - 1; i >= 0; i--)
            {
                if (!line.Contains(_awaitedTexts[i].Text, StringComparison.Ordinal)) continue;
                _awaitedTexts[i].Printed.TrySetResult();
                _awaitedTexts.RemoveAt(i);
            }

            try
            {
                _log?.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // The last lines of a disposed process: the tail above still has them.
            }
        }
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int sig);
    }
}
