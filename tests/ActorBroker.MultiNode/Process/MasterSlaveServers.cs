using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.MultiNode.Process;

/// <summary>
/// The external servers the master/slave profiles need, shared by the collection: PostgreSQL (started with the
/// collection; each cluster gets a fresh database) and ZooKeeper (started on first use, by the replicated profile).
/// </summary>
public sealed class MasterSlaveServers : IAsyncLifetime
{
    private readonly SemaphoreSlim _zooKeeperStart = new(1, 1);
    private ZooKeeperServer? _zooKeeper;

    public PostgreSqlServer Postgres { get; } = new();

    public Task InitializeAsync() => Postgres.InitializeAsync();

    /// <summary>The ZooKeeper server, started the first time a spec asks for it.</summary>
    public async Task<ZooKeeperServer> ZooKeeperAsync()
    {
        await _zooKeeperStart.WaitAsync();
        try
        {
            if (_zooKeeper is null)
            {
                var server = ZooKeeperServer.Standalone();
                await server.StartAsync();
                _zooKeeper = server;
            }

            return _zooKeeper;
        }
        finally
        {
            _zooKeeperStart.Release();
        }
    }

    public async Task DisposeAsync()
    {
        if (_zooKeeper is not null) await _zooKeeper.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

/// <summary>Master/slave process specs: real node processes and real servers, one spec at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MasterSlaveCollection : ICollectionFixture<MasterSlaveServers>
{
    public const string Name = "master/slave node processes";
}
