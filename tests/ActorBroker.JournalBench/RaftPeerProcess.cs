using System.Runtime.InteropServices;
using ActorBroker.Persistence.Raft;
using ActorBroker.Testing;
using Akka.Configuration;

namespace ActorBroker.JournalBench;

/// <summary>
/// A bare Raft replica in a process of its own: the benchmark started with <c>--raft-peer &lt;hocon file&gt;
/// [--standby]</c>, for <c>--raft-peers process</c>. Production runs one replica per node process: each has its own
/// heap, collector and thread pool, as here, while all three still share this machine's cores. <c>--standby</c>: the
/// peer never campaigns (the journal's node is to lead).
/// </summary>
internal static class RaftPeerProcess
{
    public const string Ready = "raft peer ready";

    public static async Task<int> RunAsync(string configFile, bool standby)
    {
        var settings = RaftJournalSettings.Create(ConfigurationFactory.ParseString(await File.ReadAllTextAsync(configFile)));
        await using var replica = await RaftReplica.StartAsync(settings);
        // standby succeeds only as a follower: a peer that won the first election hands leadership over first
        while (standby && !(await replica.SetStandbyAsync(true) && !replica.IsLeader))
        {
            if (replica.IsLeader) await replica.ResignAsync();
            await Task.Delay(50);
        }
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true; // stop through the disposal below, not a hard exit
            stop.TrySetResult();
        });
        Console.WriteLine(Ready);
        await stop.Task;
        return 0;
    }

    /// <summary>Starts this benchmark again as a peer replica with the given settings.</summary>
    /// <param name="cpus">CPU list for <c>taskset -c</c> (e.g. "1"), or null: the peer runs where the scheduler puts it.</param>
    public static ProcessHandle Start(string configFile, bool standby, string? cpus = null)
    {
        var assembly = typeof(RaftPeerProcess).Assembly.Location;
        var host = Environment.ProcessPath ?? "dotnet";
        var arguments = new List<string>();
        // run as `dotnet ActorBroker.JournalBench.dll` (dotnet run, benches) or as the apphost itself
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") arguments.Add(assembly);
        arguments.AddRange(["--raft-peer", configFile]);
        if (standby) arguments.Add("--standby");
        // taskset execs the runtime in place (same PID), and every thread it starts inherits the CPU list
        return cpus is null ? ProcessHandle.Start(host, arguments) : ProcessHandle.Start("taskset", ["-c", cpus, host, .. arguments]);
    }

    /// <summary>SIGTERM, then SIGKILL if the peer has not exited within 10 s (by its PID only).</summary>
    public static async Task StopAsync(ProcessHandle peer)
    {
        ProcessHandle.Signal(peer.Pid, 15);
        if (!await peer.WaitForExitAsync(TimeSpan.FromSeconds(10))) peer.Kill();
        peer.Dispose();
    }
}
