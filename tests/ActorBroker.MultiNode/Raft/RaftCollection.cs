using Xunit;
namespace ActorBroker.MultiNode.Raft;

/// <summary>
/// Raft cluster specs run one at a time: each starts three nodes with timers and sockets, and the machine has two
/// cores shared with other builds; running them in parallel would turn timing margins into flakiness.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RaftCollection
{
    public const string Name = "raft-cluster";
}
