using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.ZooKeeper;

/// <summary>
/// Specs against the shared standalone ZooKeeper server: one server per test run, specs one after another, each
/// under its own znode namespace.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ZooKeeperCollection : ICollectionFixture<ZooKeeperServerFixture>
{
    public const string Name = "ZooKeeper";
}
