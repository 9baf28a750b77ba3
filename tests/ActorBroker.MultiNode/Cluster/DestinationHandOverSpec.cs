using System.Text;
using ActorBroker.Core.Protocol;
using ActorBroker.MultiNode.Harness;
using Akka.Actor;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.MultiNode.Cluster;

/// <summary>
/// After the broker manager moved, its destinations are the ones the old master had: messages confirmed before the
/// failover are there, those acknowledged before it are not, in the original order (shared-file profile: the file
/// journal in the shared directory is recovered by the new master).
/// </summary>
[Collection(MultiNodeClusterCollection.Name)]
public sealed class DestinationHandOverSpec(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly Destination Orders = Destination.Queue("orders");

    [Theory(DisplayName = "A queue's unacknowledged messages are delivered in order by the new master after a hand-over")]
    [InlineData("crash")]
    [InlineData("leave")]
    public async Task QueueSurvivesHandOver(string how)
    {
        await using var cluster = new MultiNodeCluster("shared-file.conf", ["first", "second", "third"], output);
        await cluster.StartAsync();
        var first = cluster.Observer.CurrentHost!;

        // Before: 10 persistent messages confirmed, the first 4 consumed and acknowledged.
        var producer = cluster["first"].CreateProbe("producer");
        for (var i = 0; i < 10; i++)
        {
            first.Manager.Tell(new Send(Message(i), i), producer.Ref);
            producer.ExpectMsg<SendConfirmed>(c => c.CorrelationId == i, Wait);
        }

        var consumer = cluster["first"].CreateProbe("consumer");
        first.Manager.Tell(new Subscribe("before", Orders, AckMode.Client, Prefetch: 4), consumer.Ref);
        consumer.ExpectMsg<SubscribeConfirmed>(Wait);
        var queue = consumer.LastSender;
        var delivered = Enumerable.Range(0, 4).Select(_ => consumer.ExpectMsg<Deliver>(Wait)).ToList();
        Assert.Equal(["m0", "m1", "m2", "m3"], delivered.Select(Body));
        queue.Tell(new Ack("before", delivered.Select(d => d.DeliveryTag).ToList(), 100), consumer.Ref);
        // Deliveries refilling the prefetch window may arrive before the confirmation; they stay unacknowledged.
        consumer.FishForMessage(m => m is AckConfirmed { CorrelationId: 100 }, Wait);

        if (how == "crash") await cluster.KillAsync(cluster["first"]);
        else
        {
            await cluster["first"].LeaveAsync();
            cluster.Observer.NodeDied("first");
        }

        // After: the new master delivers exactly the 6 unacknowledged messages, in order.
        var next = await cluster.Observer.WaitForHostAsync(MultiNodeCluster.Patience, except: "first");
        var after = cluster[next.Node].CreateProbe("consumer-after");
        next.Manager.Tell(new Subscribe("after", Orders, AckMode.Client, Prefetch: 100), after.Ref);
        after.ExpectMsg<SubscribeConfirmed>(Wait);
        var redelivered = Enumerable.Range(0, 6).Select(_ => after.ExpectMsg<Deliver>(Wait)).ToList();
        after.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        Assert.Equal(["m4", "m5", "m6", "m7", "m8", "m9"], redelivered.Select(Body));
        cluster.Observer.AssertNeverTwoHosts();
    }

    private static BrokerMessage Message(int i) =>
        new($"failover-{i}", Orders, Persistent: true, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [], Encoding.UTF8.GetBytes($"m{i}"));

    private static string Body(Deliver d) => Encoding.UTF8.GetString(d.Message.Body.Span);
}
