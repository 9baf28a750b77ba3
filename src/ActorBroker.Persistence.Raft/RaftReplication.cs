using ActorBroker.Persistence.Raft.Internal;
using Akka;
using Akka.Actor;
using Akka.Event;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// Akka extension owning this actor system's <see cref="RaftReplica"/>: started on first use from
/// <c>actorbroker.persistence.raft</c> (falling back to reference.conf) and stopped by coordinated shutdown, so the
/// journal, the snapshot store and the leader lease of one system share one Raft node.
/// </summary>
public sealed class RaftReplication : IExtension
{
    private readonly Lazy<Task<RaftReplica>> _replica;
    private int _stopped;

    public RaftReplication(ExtendedActorSystem system)
    {
        Settings = RaftJournalSettings.Create(system.Settings.Config);
        var raftLog = new RaftLogBridge(Logging.GetLogger(system, "raft"), Settings.LogLevel);
        _replica = new Lazy<Task<RaftReplica>>(() => RaftReplica.StartAsync(Settings, loggerFactory: raftLog), LazyThreadSafetyMode.ExecutionAndPublication);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "stop-raft-replica", async () =>
        {
            await StopAsync().ConfigureAwait(false);
            return Done.Instance;
        });
    }

    public RaftJournalSettings Settings { get; }

    /// <summary>The started replica (starts it on first access). Faults if the Raft node could not start.</summary>
    public Task<RaftReplica> Replica => Volatile.Read(ref _stopped) == 0
        ? _replica.Value
        : Task.FromException<RaftReplica>(new RaftJournalException($"replica [{Settings.Self}] was stopped with its actor system"));

    /// <summary>Stops the replica if it was started (idempotent).</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || !_replica.IsValueCreated) return;
        try
        {
            var replica = await _replica.Value.ConfigureAwait(false);
            await replica.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception) when (!_replica.Value.IsCompletedSuccessfully)
        {
            // it never started; nothing to stop
        }
    }

    public static RaftReplication Get(ActorSystem system) => system.WithExtension<RaftReplication, RaftReplicationProvider>();
}

/// <summary>Akka extension id for <see cref="RaftReplication"/>.</summary>
public sealed class RaftReplicationProvider : ExtensionIdProvider<RaftReplication>
{
    public override RaftReplication CreateExtension(ExtendedActorSystem system) => new(system);
}
