using System.Diagnostics;
using System.Runtime;
using ActorBroker.Conformance.Journals;
using ActorBroker.JournalBench;
using ActorBroker.Persistence.File;
using ActorBroker.Testing;
using Akka.Actor;
using Akka.Configuration;

// Journal benchmark: N concurrent persistent actors write 1 KiB events with PersistAsync (fsync on), then recover.
// Usage: dotnet run -c Release --project tests/ActorBroker.JournalBench -- [--writers 1,8,64] [--file-events N]
//        [--sql-events N] [--window N] [--pg "<connection string>" | --no-pg] [--no-sqlite] [--raw] [--file-max-batch 1MiB]
//        [--raft-events N] [--no-raft] [--no-raft-fwd] [--raft-profile] [--raft-sync quorum_disk|quorum_mem] [--warmup N] [--warmup-seconds S] [--warmup-trace]
//        [--raft-peers process|inproc] [--peer-cpus LIST] [--dotnext-floor SECONDS [--floor-round EVENTS] [--floor-in-flight ROUNDS]] [--raft-solo] [--alloc-profile] [--raft-set key=value ...]
//        (raft: 3 replicas on loopback, majority commit: this process's journal plus two peers, bare replicas in this
//         process by default, or processes of their own with --raft-peers process, as on real nodes; "raft" writes on the
//         leader, "raft-fwd" on a follower; --raft-profile prints CPU per event (peer processes included) and where the
//         replicas' write path spends its time; --raft-solo: a one-member group, no replication; --alloc-profile samples
//         what this process allocates, by type; --raft-set: a setting of actorbroker.persistence.raft on every replica;
//         --peer-cpus: peer processes under `taskset -c LIST`; with the benchmark itself under `taskset -c` another list,
//         each node gets cores of its own, as on separate machines; --dotnext-floor: after each file row, three bare
//         DotNext replicas with no journal on top for that long (DotNextFloor: the bound any DotNext journal meets here))
if (args is ["--raft-peer", var peerConfig, ..] rest)
    return await RaftPeerProcess.RunAsync(peerConfig, standby: rest.Contains("--standby"));
var options = Options.Parse(args);
var results = new List<Result>();
var scratch = Path.Combine(Path.GetTempPath(), "actorbroker-journal-bench-" + Environment.ProcessId);
Directory.CreateDirectory(scratch);
PostgreSqlServer? server = null;
try
{
    string? pgBase = options.PgConnectionString;
    if (pgBase is null && options.Postgres)
    {
        Console.WriteLine("starting a throw-away PostgreSQL (ActorBroker.Testing.PostgreSqlServer) ...");
        server = new PostgreSqlServer();
        await server.InitializeAsync();
    }

    if (options.Raw)
        foreach (var writers in options.Writers)
        {
            var (rate, commits) = await RawFileJournal.RunAsync(Path.Combine(scratch, $"raw-{writers}"), writers, options.FileEvents, 20);
            Console.WriteLine($"raw file writer (no Akka), {writers} writers x 20-event writes: {rate:N0} ev/s, {commits} fsyncs");
        }

    foreach (var writers in options.Writers)
    {
        var fileDir = Path.Combine(scratch, $"file-{writers}");
        Directory.CreateDirectory(fileDir); // the journal creates only its own directory, under an existing one
        results.Add(await Run("file", writers, options.FileEvents, options, ConfigurationFactory.ParseString($"""
            akka.persistence.journal.plugin = "actorbroker.persistence.file.journal"
            akka.persistence.snapshot-store.plugin = "actorbroker.persistence.file.snapshot-store"
            actorbroker.persistence.file.journal.directory = "{fileDir}/journal"
            actorbroker.persistence.file.snapshot-store.directory = "{fileDir}/snapshots"
            {(options.FileMaxBatch is { } b ? $"actorbroker.persistence.file.journal.max-batch-bytes = {b}" : "")}
            """).WithFallback(FileJournalConfig.Default)));

        if (options.Sqlite)
            results.Add(await Run("sqlite", writers, options.SqlEvents, options, SqlJournalHocon.Sqlite(Path.Combine(scratch, $"sqlite-{writers}.db"))));

        if (server is not null || pgBase is not null)
        {
            var connection = server is not null
                ? await server.CreateDatabaseAsync($"bench_{writers}_{Environment.ProcessId}")
                : pgBase!;
            results.Add(await Run("postgres", writers, options.SqlEvents, options, SqlJournalHocon.Postgres(connection)));
        }

        if (options.DotNextFloorSeconds is { } floorSeconds)
        {
            var (rate, cpu) = await DotNextFloor.RunAsync(Path.Combine(scratch, $"floor-{writers}"), floorSeconds,
                options.FloorRoundEvents, options.FloorRoundsInFlight);
            var file = results.LastOrDefault(r => r.Backend == "file" && r.Writers == writers);
            Console.WriteLine($"dotnext floor (3 bare DotNext replicas, no-op state machine, {options.FloorRoundEvents}-event rounds, {options.FloorRoundsInFlight} in flight): {rate:N0} ev/s, " +
                              $"{cpu:N1} us CPU per event" + (file is null ? "" : $"; file journal above: {file.EventsPerSecond:N0} ev/s, floor / file = {rate / file.EventsPerSecond:F2}"));
        }

        if (options.Raft)
        {
            // "raft": the journal's node is the Raft leader (the node keeps the leader where the singleton and so the
            // persistent actors run); "raft-fwd": it is a follower and forwards every write to the leader.
            foreach (var (backend, journalLeads) in new[] { ("raft", true), ("raft-fwd", false) })
            {
                if (!journalLeads && (!options.RaftForwarded || options.RaftSolo)) continue;
                await using var raft = await RaftBenchCluster.StartAsync(Path.Combine(scratch, $"{backend}-{writers}"), options.RaftSyncMode, options.RaftSettings,
                    journalLeads, peersInProcess: options.RaftPeersInProcess, solo: options.RaftSolo, options.PeerCpus);
                results.Add(await Run(backend, writers, options.RaftEvents, options, raft.Node0Config,
                    async system => await raft.PlaceLeaderAsync(await ActorBroker.Persistence.Raft.RaftReplication.Get(system).Replica, journalLeads),
                    () => raft.PeerProcessorTime));
            }
        }
    }
}
finally
{
    if (server is not null) await server.DisposeAsync();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(scratch, recursive: true);
}

Console.WriteLine();
Console.WriteLine($"{"journal",-9}{"writers",8}{"events",9}{"events/s",11}{"p50 ms",9}{"p99 ms",9}{"replay ev/s",13}");
foreach (var r in results)
    Console.WriteLine($"{r.Backend,-9}{r.Writers,8}{r.Events,9}{r.EventsPerSecond,11:N0}{r.P50Ms,9:F2}{r.P99Ms,9:F2}{r.ReplayPerSecond,13:N0}");
foreach (var writers in options.Writers)
{
    var file = results.FirstOrDefault(r => r.Backend == "file" && r.Writers == writers);
    var pg = results.FirstOrDefault(r => r.Backend == "postgres" && r.Writers == writers);
    if (file is not null && pg is not null)
        Console.WriteLine($"file / postgres at {writers} writers: {file.EventsPerSecond / pg.EventsPerSecond:F1}x write, {file.ReplayPerSecond / pg.ReplayPerSecond:F1}x replay");
}
return 0;

static async Task<Result> Run(string backend, int writers, int totalEvents, Options options, Config journalConfig,
    Func<ActorSystem, Task>? prepare = null, Func<TimeSpan>? peerCpu = null)
{
    var perWriter = Math.Max(1, totalEvents / writers);
    var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING").WithFallback(journalConfig);
    var system = ActorSystem.Create($"bench-{backend}-{writers}", config);
    try
    {
        var payload = new byte[1024];
        Random.Shared.NextBytes(payload);
        var pids = Enumerable.Range(0, writers).Select(i => $"bench-{backend}-{writers}-{i}").ToArray();

        if (prepare is not null) await prepare(system);
        // Warm-up: open the journal (tables, fence), then write with the row's own number of writers, --warmup events per
        // round, for at least --warmup-seconds and until a round compiles almost no method: measured before tiered JIT
        // has settled (it promotes hot methods in the background, seconds after their first calls), a row times the JIT
        // (with three replicas to compile, the Raft rows far longer than the file rows) more than the journal.
        const int SettledJitMethods = 20, MaxWarmupRounds = 200;
        var warmPerWriter = Math.Max(10, options.WarmupEvents / writers);
        var (warmRounds, warmClock) = (0, Stopwatch.StartNew());
        for (var compiled = int.MaxValue; (compiled > SettledJitMethods || warmClock.Elapsed.TotalSeconds < options.WarmupSeconds) && warmRounds < MaxWarmupRounds; warmRounds++)
        {
            var (methodsBefore, roundClock, cpuBefore) = (JitInfo.GetCompiledMethodCount(), Stopwatch.StartNew(), Process.GetCurrentProcess().TotalProcessorTime);
            var warmers = Enumerable.Range(0, writers)
                .Select(i => system.ActorOf(Props.Create<BenchWriter>($"warmup{warmRounds}-{backend}-{writers}-{i}"))).ToArray();
            await Task.WhenAll(warmers.Select(w => w.Ask<WriterDone>(new StartWriting(warmPerWriter, options.Window, payload), TimeSpan.FromMinutes(5))));
            foreach (var w in warmers) await w.GracefulStop(TimeSpan.FromSeconds(30));
            compiled = (int)(JitInfo.GetCompiledMethodCount() - methodsBefore);
            if (options.WarmupTrace)
                Console.WriteLine($"  {DateTime.UtcNow:HH:mm:ss.f} {backend} warm-up round {warmRounds}: {roundClock.Elapsed.TotalSeconds:N2} s, " +
                                  $"CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds:N2} s, {compiled} methods compiled");
        }
        Console.WriteLine($"  {backend} writers={writers}: warmed up in {warmRounds} rounds of {warmPerWriter * writers:N0} events, {warmClock.Elapsed.TotalSeconds:N1} s");

        var actors = pids.Select(pid => system.ActorOf(Props.Create<BenchWriter>(pid))).ToArray();
        if (options.RaftProfile && backend.StartsWith("raft"))
        {
            ActorBroker.Persistence.Raft.Internal.RaftProfile.Reset();
            ActorBroker.Persistence.Raft.Internal.RaftProfile.Enabled = true;
        }
        using var allocations = options.AllocationProfile ? new AllocationListener() : null;
        var (ownCpuBefore, peerCpuBefore) = (Process.GetCurrentProcess().TotalProcessorTime, peerCpu?.Invoke() ?? TimeSpan.Zero);
        var gcBefore = (GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes());
        var clock = Stopwatch.StartNew();
        var done = await Task.WhenAll(actors.Select(a => a.Ask<WriterDone>(new StartWriting(perWriter, options.Window, payload), TimeSpan.FromMinutes(10))));
        var writeSeconds = clock.Elapsed.TotalSeconds;
        var ownCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - ownCpuBefore).TotalSeconds;
        var peerCpuSeconds = ((peerCpu?.Invoke() ?? TimeSpan.Zero) - peerCpuBefore).TotalSeconds;
        var cpuSeconds = ownCpuSeconds + peerCpuSeconds;
        if (allocations is not null) Console.WriteLine($"  allocated by this process ({backend}), sampled:\n" + allocations.Report(perWriter * writers));
        if (options.RaftProfile)
        {
            Console.WriteLine($"  {backend} writers={writers}: {writeSeconds:N2} s, CPU {cpuSeconds:N2} s = {cpuSeconds * 1e6 / (perWriter * writers):N0} us CPU per event" +
                              (peerCpuSeconds > 0 ? $" ({ownCpuSeconds * 1e6 / (perWriter * writers):N0} us in this process, {peerCpuSeconds * 1e6 / (perWriter * writers):N0} us in the two peer processes)" : "") + "; " +
                              $"GC pause {(GC.GetTotalPauseDuration() - gcBefore.Item1).TotalMilliseconds:N0} ms, gen0/1/2 {GC.CollectionCount(0) - gcBefore.Item2}/{GC.CollectionCount(1) - gcBefore.Item3}/{GC.CollectionCount(2) - gcBefore.Item4}, " +
                              $"allocated {(GC.GetTotalAllocatedBytes() - gcBefore.Item5) / (double)(perWriter * writers):N0} B/event");
            if (backend.StartsWith("raft"))
            {
                ActorBroker.Persistence.Raft.Internal.RaftProfile.Enabled = false;
                var replica = await ActorBroker.Persistence.Raft.RaftReplication.Get(system).Replica;
                Console.WriteLine($"  node0 (journal) is leader: {replica.IsLeader}");
                Console.WriteLine("  " + ActorBroker.Persistence.Raft.Internal.RaftProfile.Report(writeSeconds).Replace("\n", "\n  "));
            }
        }
        foreach (var a in actors) await a.GracefulStop(TimeSpan.FromSeconds(30));

        var latencies = done.SelectMany(d => d.LatencyTicks).Order().ToArray();
        double Ms(double q) => latencies[(int)Math.Min(latencies.Length - 1, q * latencies.Length)] * 1000.0 / Stopwatch.Frequency;

        clock.Restart();
        var replayed = await Task.WhenAll(pids.Select((pid, i) =>
        {
            var probe = new TaskCompletionSource<ReplayDone>();
            var inbox = system.ActorOf(Props.Create(() => new ReplyCollector(probe)));
            system.ActorOf(Props.Create(() => new BenchReplayer(pid, inbox)), $"replay-{i}");
            return probe.Task.WaitAsync(TimeSpan.FromMinutes(10));
        }));
        var replaySeconds = clock.Elapsed.TotalSeconds;
        var replayedEvents = replayed.Sum(r => r.Events);
        if (replayedEvents != (long)perWriter * writers)
            throw new InvalidOperationException($"{backend}: replayed {replayedEvents} events, wrote {perWriter * writers}");

        var result = new Result(backend, writers, perWriter * writers, perWriter * writers / writeSeconds, Ms(0.50), Ms(0.99),
            replayedEvents / replaySeconds);
        Console.WriteLine($"{backend,-9} writers={writers,-3} events={result.Events,-7} {result.EventsPerSecond,10:N0} ev/s  p50 {result.P50Ms:F2} ms  p99 {result.P99Ms:F2} ms  replay {result.ReplayPerSecond:N0} ev/s");
        return result;
    }
    finally
    {
        await system.Terminate();
    }
}

sealed record Result(string Backend, int Writers, int Events, double EventsPerSecond, double P50Ms, double P99Ms, double ReplayPerSecond);

sealed class ReplyCollector : ReceiveActor
{
    public ReplyCollector(TaskCompletionSource<ReplayDone> done) => Receive<ReplayDone>(d => { done.TrySetResult(d); Context.Stop(Self); });
}

sealed record Options(int[] Writers, int FileEvents, int SqlEvents, int Window, string? PgConnectionString, bool Postgres, bool Sqlite, bool Raw = false,
    string? FileMaxBatch = null, bool Raft = true, int RaftEvents = 100_000, bool RaftProfile = false, bool RaftForwarded = true,
    string RaftSyncMode = "quorum_disk", int WarmupEvents = 20_000, double WarmupSeconds = 10, bool WarmupTrace = false, bool RaftPeersInProcess = true, bool RaftSolo = false, bool AllocationProfile = false, string[]? RaftSettingsOrNull = null, string? PeerCpus = null, double? DotNextFloorSeconds = null,
    int FloorRoundEvents = 800, int FloorRoundsInFlight = 8)
{
    /// <summary>--raft-set key=value (repeatable): settings of actorbroker.persistence.raft for every replica.</summary>
    public string[] RaftSettings => RaftSettingsOrNull ?? [];

    public static Options Parse(string[] args)
    {
        var o = new Options([1, 8, 64], 200_000, 20_000, 200, null, true, true);
        for (var i = 0; i < args.Length; i++)
        {
            o = args[i] switch
            {
                "--writers" => o with { Writers = args[++i].Split(',').Select(int.Parse).ToArray() },
                "--file-events" => o with { FileEvents = int.Parse(args[++i]) },
                "--sql-events" => o with { SqlEvents = int.Parse(args[++i]) },
                "--window" => o with { Window = int.Parse(args[++i]) },
                "--pg" => o with { PgConnectionString = args[++i] },
                "--no-pg" => o with { Postgres = false },
                "--no-sqlite" => o with { Sqlite = false },
                "--raw" => o with { Raw = true },
                "--file-max-batch" => o with { FileMaxBatch = args[++i] },
                "--raft-events" => o with { RaftEvents = int.Parse(args[++i]) },
                "--no-raft" => o with { Raft = false },
                "--raft-profile" => o with { RaftProfile = true },
                "--no-raft-fwd" => o with { RaftForwarded = false },
                "--raft-sync" => o with { RaftSyncMode = args[++i] },
                "--warmup" => o with { WarmupEvents = int.Parse(args[++i]) },
                "--warmup-trace" => o with { WarmupTrace = true },
                "--warmup-seconds" => o with { WarmupSeconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture) },
                "--raft-peers" => o with
                {
                    RaftPeersInProcess = args[++i] switch
                    {
                        "inproc" => true,
                        "process" => false,
                        var other => throw new ArgumentException($"--raft-peers takes process or inproc, not [{other}]"),
                    },
                },
                "--raft-solo" => o with { RaftSolo = true },
                "--dotnext-floor" => o with { DotNextFloorSeconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture) },
                "--floor-round" => o with { FloorRoundEvents = int.Parse(args[++i]) },
                "--floor-in-flight" => o with { FloorRoundsInFlight = int.Parse(args[++i]) },
                "--peer-cpus" => o with { PeerCpus = args[++i], RaftPeersInProcess = false },
                "--alloc-profile" => o with { AllocationProfile = true },
                "--raft-set" => o with { RaftSettingsOrNull = [..o.RaftSettings, args[++i]] },
                _ => throw new ArgumentException($"unknown argument [{args[i]}]; see the usage line in Program.cs"),
            };
        }
        return o;
    }
}
