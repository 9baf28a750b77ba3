using ActorBroker.Persistence.Raft;
using ActorBroker.Testing;
using Akka.Configuration;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Journals;

/// <summary>
/// The journal suite against <see cref="RaftJournal"/> / <see cref="RaftSnapshotStore"/> on a fresh 3-node in-process
/// Raft cluster per test (free loopback ports, one temp directory): the suite's actor system is node 0, nodes 1 and 2
/// are bare replicas. Every write therefore needs a majority commit and every read passes the read barrier.
/// </summary>
public sealed class RaftJournalSpec : JournalConformanceSpec
{
    private readonly ThreeNodeRaft _cluster;

    public RaftJournalSpec(ITestOutputHelper output) : this(ThreeNodeRaft.Start(), output) { }

    private RaftJournalSpec(ThreeNodeRaft cluster, ITestOutputHelper output)
        : base(cluster.Node0Config, nameof(RaftJournalSpec), output) => _cluster = cluster;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing); // terminates node 0's actor system, which stops its replica
        _cluster.Dispose();
    }

    /// <summary>Ports, directories and the two bare replicas of one test's cluster.</summary>
    private sealed class ThreeNodeRaft : IDisposable
    {
        private readonly TempDirectory _root = new("raft-journal-spec");
        private readonly List<RaftReplica> _peers = [];

        public Config Node0Config { get; private set; } = Config.Empty;

        public static ThreeNodeRaft Start()
        {
            var cluster = new ThreeNodeRaft();
            var members = new LoopbackRaftMembers(cluster._root.Path);
            foreach (var i in new[] { 1, 2 })
            {
                var settings = RaftJournalSettings.Create(ConfigurationFactory.ParseString(members.Section(i)));
                cluster._peers.Add(RaftReplica.StartAsync(settings).GetAwaiter().GetResult());
            }

            // The two peers are a majority: wait until they elected a leader and applied its term, so the suite's first
            // write does not spend the journal's 10 s call timeout on start-up and elections (a loaded CI run did).
            var readyBy = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                try
                {
                    cluster._peers[0].ReadBarrierAsync().GetAwaiter().GetResult(); // gives up after read-timeout (10 s)
                    break;
                }
                catch (RaftJournalReadBarrierException) when (DateTime.UtcNow < readyBy)
                {
                }
            }
            cluster.Node0Config = ConfigurationFactory.ParseString($$"""
                akka.persistence.journal.plugin = "actorbroker.persistence.raft.journal"
                akka.persistence.snapshot-store.plugin = "actorbroker.persistence.raft.snapshot-store"
                {{members.Section(0)}}
                """).WithFallback(RaftJournalConfig.Default);
            return cluster;
        }

        public void Dispose()
        {
            foreach (var peer in _peers) peer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _root.Dispose();
        }
    }
}
