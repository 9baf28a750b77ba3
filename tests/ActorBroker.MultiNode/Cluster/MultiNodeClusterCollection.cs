using Xunit;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>In-process multi-node specs run one at a time: each starts several actor systems, and failover timing on a
/// shared 2-core machine must not compete with a sibling spec's nodes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MultiNodeClusterCollection
{
    public const string Name = "in-process multi-node clusters";
}
