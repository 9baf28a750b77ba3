using System.Diagnostics;
using System.Net;
using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace ActorBroker.JournalBench;

/// <summary>
/// The floor under any journal built on DotNext here: three bare DotNext replicas on loopback (TCP transport, WAL in
/// private memory, the journal's settings) with DotNext's own no-op state machine, and the leader appending rounds of
/// the size the journal's group committer produces (<c>events</c> × 1 KiB plus the journal's ~110 bytes of per-event
/// framing), up to <c>inFlight</c> at a time, each awaited until committed by a majority and applied on the leader.
/// No Akka, no encoding, no journal state, no event-body files, no follower durability reports (quorum_mem): what is
/// left is DotNext's append, replication, WAL flush and compaction. Its rate bounds what the Raft journal can reach on
/// the same machine, whatever the journal's own code does.
/// </summary>
public static class DotNextFloor
{
    public static async Task<(double EventsPerSecond, double CpuMicrosPerEvent)> RunAsync(string directory, double seconds,
        int eventsPerRound = 800, int inFlight = 8)
    {
        var members = Enumerable.Range(0, 3).Select(_ => new IPEndPoint(IPAddress.Loopback, FreePort.Next())).ToArray();
        var nodes = new List<(RaftCluster Cluster, WriteAheadLog Log)>();
        try
        {
            foreach (var self in members)
            {
                var log = new WriteAheadLog(new WriteAheadLog.Options
                {
                    Location = Path.Combine(directory, $"node{self.Port}"),
                    ChunkSize = 8 << 20, // the journal's wal-chunk-size default
                    MemoryManagement = WriteAheadLog.MemoryManagementStrategy.PrivateMemory,
                }, IStateMachine.CreateNoOp(snapshotThreshold: 100)); // free snapshots: compaction costs DotNext only
                var cluster = new RaftCluster(new RaftCluster.TcpConfiguration(self)
                {
                    ColdStart = false,
                    LowerElectionTimeout = 300,
                    UpperElectionTimeout = 600,
                    RequestTimeout = TimeSpan.FromMilliseconds(200),
                    TransmissionBlockSize = 1 << 20,
                    ConfigurationStorage = new StaticMembership(members),
                }) { AuditTrail = log };
                nodes.Add((cluster, log));
                await cluster.StartAsync(CancellationToken.None);
            }

            var (leader, leaderLog) = await LeaderAsync(nodes);
            var round = new byte[eventsPerRound * (1024 + 110)];
            Random.Shared.NextBytes(round);
            long rounds = 0;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, inFlight).Select(appender => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var index = await leaderLog.AppendAsync(new BinaryLogEntry { Content = round, Term = leader.Term });
                    _ = leader.ForceReplicationAsync(CancellationToken.None).AsTask()
                        .ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                    await leaderLog.WaitForApplyAsync(index, CancellationToken.None);
                    Interlocked.Increment(ref rounds);
                }
            })));
            var elapsed = clock.Elapsed.TotalSeconds;
            var events = rounds * eventsPerRound;
            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            return (events / elapsed, cpu * 1e6 / events);
        }
        finally
        {
            foreach (var (cluster, log) in nodes)
            {
                await cluster.StopAsync(CancellationToken.None);
                cluster.Dispose();
                await log.DisposeAsync();
            }
        }
    }

    private static async Task<(RaftCluster, WriteAheadLog)> LeaderAsync(List<(RaftCluster Cluster, WriteAheadLog Log)> nodes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            foreach (var node in nodes)
                if (!node.Cluster.LeadershipToken.IsCancellationRequested) return node;
            await Task.Delay(50, timeout.Token);
        }
    }
}
