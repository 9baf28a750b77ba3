using Xunit;

namespace ActorBroker.MultiNode.Process;

/// <summary>Process specs start real node processes; they run one at a time so timings stay meaningful on 2 cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NodeProcessCollection
{
    public const string Name = "node processes";
}
