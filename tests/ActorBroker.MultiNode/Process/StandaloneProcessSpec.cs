using ActorBroker.Testing;
using Xunit;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.MultiNode.Process;

/// <summary>
/// The standalone profile as a user runs it: a real node process, a real TCP client, kill -9.
/// </summary>
[Collection(NodeProcessCollection.Name)]
public sealed class StandaloneProcessSpec : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dataDir = new("actorbroker-process");

    public void Dispose() => _dataDir.Dispose();

    private NodeProcess StartNode(out int port, string profile = "standalone.conf")
    {
        port = FreePort.Next();
        return NodeProcess.Start(profile, new Dictionary<string, string>
        {
            ["ACTORBROKER_DATA_DIR"] = _dataDir.Path,
            ["ACTORBROKER_STOMP_PORT"] = port.ToString(),
        });
    }

    [Theory(DisplayName = "After kill -9 and restart, exactly the receipted and unacknowledged messages are delivered, flagged redelivered where delivered before")]
    [InlineData("standalone.conf")]
    [InlineData("standalone-sqlite.conf")]
    public async Task KillMinusNineKeepsEveryUnackedMessage(string profile)
    {
        const int total = 1000, prefetch = 500, acked = 300;
        var delivered = new HashSet<int>();
        var ackedSeqs = new HashSet<int>();

        await using (var node = StartNode(out var port, profile))
        {
            await node.WaitForStompPortAsync(StartTimeout);
            var (producer, _) = await ConnectStompAsync("127.0.0.1", port);
            await using (producer)
            {
                for (var i = 0; i < total; i++)
                    await producer.SendFrameAsync("SEND", H("destination", "/queue/orders", "persistent", "true", "seq", i.ToString(), "receipt", $"r{i}"), $"order {i}");
                var receipts = new HashSet<string>();
                while (receipts.Count < total)
                {
                    var frame = await producer.ReceiveFrameAsync(TimeSpan.FromSeconds(30));
                    Assert.Equal("RECEIPT", frame.Command);
                    receipts.Add(frame["receipt-id"]!);
                }
            }

            var (consumer, _) = await ConnectStompAsync("127.0.0.1", port);
            await using (consumer)
            {
                await consumer.SendFrameAsync("SUBSCRIBE", H("id", "s1", "destination", "/queue/orders", "ack", "client-individual", "activemq.prefetchSize", prefetch.ToString()));
                var pendingReceipts = 0;
                var ackIds = new List<(int Seq, string AckId)>();
                while (delivered.Count < prefetch)
                {
                    var message = await consumer.ReceiveFrameAsync(TimeSpan.FromSeconds(30));
                    Assert.Equal("MESSAGE", message.Command);
                    var seq = int.Parse(message["seq"]!);
                    Assert.Equal($"order {seq}", message.BodyText);
                    delivered.Add(seq);
                    ackIds.Add((seq, message["ack"]!));
                }

                foreach (var (seq, ackId) in ackIds.Take(acked))
                {
                    await consumer.SendFrameAsync("ACK", H("id", ackId, "receipt", $"a{seq}"));
                    ackedSeqs.Add(seq);
                    pendingReceipts++;
                }

                // Acks free prefetch slots, so more MESSAGEs may arrive among the receipts: count them as delivered too.
                while (pendingReceipts > 0)
                {
                    var frame = await consumer.ReceiveFrameAsync(TimeSpan.FromSeconds(30));
                    if (frame.Command == "RECEIPT") pendingReceipts--;
                    else if (frame.Command == "MESSAGE") delivered.Add(int.Parse(frame["seq"]!));
                    else Assert.Fail($"unexpected frame {frame}");
                }
            }

            node.Kill();
            await node.DisposeAsync();
        }

        await using var restarted = StartNode(out var port2, profile);
        await restarted.WaitForStompPortAsync(StartTimeout);
        var (again, _) = await ConnectStompAsync("127.0.0.1", port2);
        await using (again)
        {
            await again.SendFrameAsync("SUBSCRIBE", H("id", "s2", "destination", "/queue/orders", "ack", "client-individual", "activemq.prefetchSize", "1000"));
            var received = new Dictionary<int, bool>();
            while (received.Count < total - acked)
            {
                var message = await again.ReceiveFrameAsync(TimeSpan.FromSeconds(30));
                Assert.Equal("MESSAGE", message.Command);
                var seq = int.Parse(message["seq"]!);
                Assert.True(received.TryAdd(seq, message["redelivered"] == "true"), $"message {seq} delivered twice");
            }

            // Exactly these: nothing more arrives once the 700 are in.
            Assert.Null(await again.TryReceiveFrameAsync(TimeSpan.FromSeconds(1)));
            Assert.Equal(Enumerable.Range(0, total).Where(i => !ackedSeqs.Contains(i)).ToHashSet(), received.Keys.ToHashSet());
            foreach (var seq in delivered.Except(ackedSeqs))
                Assert.True(received[seq], $"message {seq} was delivered before the crash but is not flagged redelivered");
        }
    }

    [Theory(DisplayName = "A bad setting stops the node with an error line naming it and exit code 2, not a crash: of the wrong kind before anything starts, out of range as its component starts")]
    [InlineData("abc", "error: setting [actorbroker.stomp.max-frame-size] = [abc] is not a size")]
    [InlineData("0", "error: the node could not start: Invalid actorbroker.stomp.max-frame-size [0]")]
    public async Task BadComponentSettingExitsCleanly(string value, string error)
    {
        var port = FreePort.Next();
        await using var node = NodeProcess.Start("standalone.conf", new Dictionary<string, string>
        {
            ["ACTORBROKER_DATA_DIR"] = _dataDir.Path,
            ["ACTORBROKER_STOMP_PORT"] = port.ToString(),
        }, "--set", $"actorbroker.stomp.max-frame-size={value}");
        Assert.True(await node.WaitForExitAsync(StartTimeout), "the node kept running with an invalid setting");
        Assert.Equal(2, node.ExitCode); // an unhandled exception ends with SIGABRT (134)
        Assert.Contains(error, node.Output);
    }

    [Fact(DisplayName = "A second node on the same data directory waits as standby with its port closed, and takes over on SIGTERM of the first")]
    public async Task SecondNodeOnSameDataDirectoryIsStandby()
    {
        await using var first = StartNode(out var firstPort);
        await first.WaitForStompPortAsync(StartTimeout);
        var (producer, _) = await ConnectStompAsync("127.0.0.1", firstPort);
        await using (producer)
        {
            for (var i = 0; i < 10; i++)
            {
                await producer.SendFrameAsync("SEND", H("destination", "/queue/handover", "persistent", "true", "receipt", $"r{i}"), $"m{i}");
                Assert.Equal("RECEIPT", (await producer.ReceiveFrameAsync()).Command);
            }
        }

        await using var second = StartNode(out var secondPort);
        // The singleton manager logs each failed lease attempt; after one, the second node is a standby by construction.
        await second.WaitForOutputAsync("Acquire lease result False", StartTimeout);
        Assert.False(await second.IsStompPortOpenAsync(), "a standby must keep its STOMP port closed");
        Assert.True(await first.IsStompPortOpenAsync());

        Assert.True(await first.StopAsync(TimeSpan.FromSeconds(30)), "SIGTERM must shut the node down cleanly");
        await second.WaitForStompPortAsync(TimeSpan.FromSeconds(30));
        // Handed over, not expired: the first node released its lease on the way out and the second took it as free.
        Assert.Contains("released by owner", first.Milestones);
        Assert.DoesNotContain("stopped heart-beating", second.Milestones);

        var (consumer, _) = await ConnectStompAsync("127.0.0.1", secondPort);
        await using (consumer)
        {
            await consumer.SendFrameAsync("SUBSCRIBE", H("id", "s", "destination", "/queue/handover", "ack", "auto"));
            var bodies = new HashSet<string>();
            for (var i = 0; i < 10; i++)
                bodies.Add((await consumer.ReceiveFrameAsync(TimeSpan.FromSeconds(30))).BodyText);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}").ToHashSet(), bodies);
        }
    }
}
