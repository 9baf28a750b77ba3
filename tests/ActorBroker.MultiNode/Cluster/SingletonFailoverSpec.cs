using System.Diagnostics;
using ActorBroker.MultiNode.Harness;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>
/// The broker manager (a lease-guarded cluster singleton) moves to a standby when its node leaves or crashes, and no two
/// nodes ever host it at once. Shared-file profile: file lease + file journal in a temporary shared directory.
/// </summary>
[Collection(MultiNodeClusterCollection.Name)]
public sealed class SingletonFailoverSpec(ITestOutputHelper output)
{
    private static readonly string[] ThreeNodes = ["first", "second", "third"];

    [Fact(DisplayName = "The broker manager moves to the next-oldest node when the master leaves gracefully")]
    public async Task HandOverOnGracefulLeave()
    {
        await using var cluster = new MultiNodeCluster("shared-file.conf", ThreeNodes, output);
        await cluster.StartAsync();
        Assert.Equal("first", cluster.Observer.CurrentHost?.Node);

        await cluster["first"].LeaveAsync();
        cluster.Observer.NodeDied("first");
        var next = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: "first");

        Assert.Equal("second", next.Node);
        cluster.Observer.AssertNeverTwoHosts();
    }

    /// <remarks>The logged "kill -> broker manager started" figure is the failover measurement (run repeatedly to sample).</remarks>
    [Theory(DisplayName = "The broker manager starts on a standby shortly after the master's actor system is killed")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task FailOverOnCrash(string profile)
    {
        await using var cluster = new MultiNodeCluster(profile, ThreeNodes, output);
        await cluster.StartAsync();

        var killedAt = await cluster.KillAsync(cluster["first"]);
        var next = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: "first");
        var failover = Stopwatch.GetElapsedTime(killedAt, next.Started);
        cluster.Log($"FAILOVER {profile}: kill -> broker manager started on [{next.Node}]: {failover.TotalMilliseconds:F0} ms");

        Assert.Equal("second", next.Node);
        cluster.Observer.AssertNeverTwoHosts();
    }

    [Fact(DisplayName = "A two-node cluster keeps a broker manager after a crash of either node")]
    public async Task TwoNodesSurviveEitherCrash()
    {
        foreach (var victim in new[] { "first", "second" })
        {
            await using var cluster = new MultiNodeCluster("shared-file.conf", ["first", "second"], output);
            await cluster.StartAsync();
            var survivor = victim == "first" ? "second" : "first";

            await cluster.KillAsync(cluster[victim]);
            var host = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: victim);
            // The survivor must also stay a member (keep-majority alone would down the higher address of two).
            await MultiNodeCluster.AwaitConditionAsync(
                () => cluster[survivor].Cluster.State.Members.Count == 1, $"[{victim}] to be removed from the survivor's view");

            Assert.Equal(survivor, host.Node);
            Assert.True(cluster[survivor].IsAlive, $"survivor [{survivor}] must not down itself");
            cluster.Observer.AssertNeverTwoHosts();
        }
    }
}
