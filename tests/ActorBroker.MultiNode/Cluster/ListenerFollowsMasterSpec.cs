using System.Net.Sockets;
using ActorBroker.MultiNode.Harness;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>
/// ActiveMQ master/slave semantics at the socket: only the node hosting the broker manager accepts STOMP connections;
/// standbys refuse them until they take over. Each node checks its own port concurrently (RunOn + barriers).
/// </summary>
[Collection(MultiNodeClusterCollection.Name)]
public sealed class ListenerFollowsMasterSpec(ITestOutputHelper output)
{
    [Fact(DisplayName = "Only the master accepts STOMP connections, and the standby that takes over starts accepting them")]
    public async Task OnlyMasterListens()
    {
        await using var cluster = new MultiNodeCluster("shared-file.conf", ["first", "second", "third"], output);
        await cluster.StartAsync();

        await cluster.RunOnAsync(["first", "second", "third"], async node =>
        {
            var shouldListen = node.Role == "first";
            await MultiNodeCluster.AwaitConditionAsync(() => Accepts(node.StompPort) == shouldListen,
                $"[{node.Role}] STOMP port to {(shouldListen ? "accept" : "refuse")} connections");
            await cluster.EnterBarrierAsync(node, "listeners-checked");
        });

        await cluster.KillAsync(cluster["first"]);

        await cluster.RunOnAsync(["second", "third"], async node =>
        {
            var shouldListen = node.Role == "second";
            await MultiNodeCluster.AwaitConditionAsync(() => Accepts(node.StompPort) == shouldListen,
                $"[{node.Role}] STOMP port to {(shouldListen ? "accept" : "refuse")} connections after the failover");
            await cluster.EnterBarrierAsync(node, "after-failover");
        });
        cluster.Observer.AssertNeverTwoHosts();
    }

    private static bool Accepts(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
