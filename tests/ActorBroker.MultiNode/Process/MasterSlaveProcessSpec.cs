using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.MultiNode.Process;

/// <summary>
/// Master/slave as an operator runs it: real node processes of each master/slave profile on loopback, a failover
/// client (a producer with a receipt per message, a consumer with client-individual acks) rotating over every node's
/// STOMP port, and failures injected by PID: kill -9, SIGSTOP/SIGCONT, store outage. Each spec states the guarantee it
/// checks; message counts are small so the collection stays within minutes on 2 cores.
/// </summary>
[Collection(MasterSlaveCollection.Name)]
public sealed class MasterSlaveProcessSpec(MasterSlaveServers servers)
{
    /// <summary>Kill to new master, and similar waits: generous for a loaded 2-core machine.</summary>
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(30);

    // Rows are explicit so a known failure is a visible, explained skip (README, "Skipped tests"), never a silent gap.
    private const string FrozenMasterSqlite =
        "known limit (issue 6): a SIGSTOPped process keeps its SQLite file locks, so the new master's lease heartbeats cannot commit";

    /// <summary>A replicated journal needs a Raft majority after one node is lost: those profiles run at least 3 nodes.</summary>
    private static bool IsReplicated(string profile) => profile.StartsWith("replicated", StringComparison.Ordinal);

    private async Task<BrokerCluster> StartClusterAsync(string profile, int size) =>
        await BrokerCluster.StartAsync(profile, IsReplicated(profile) ? Math.Max(size, 3) : size,
            postgres: profile.StartsWith("sql-postgres", StringComparison.Ordinal) ? servers.Postgres : null,
            zooKeeper: profile == "replicated.conf" ? await servers.ZooKeeperAsync() : null);

    /// <summary>SIGSTOP of the master; returns its successor once that one has receipted 40 more messages.</summary>
    private static async Task<ClusterNode> FreezeUntilReplacedAsync(BrokerCluster cluster, ClusterNode master, FailoverTraffic traffic)
    {
        cluster.Freeze(master);
        var successor = await cluster.WaitForMasterAsync(Failover);
        await traffic.WaitForReceiptsAsync(traffic.Producer.Receipted.Count + 40, Failover, cluster.Diagnostics);
        return successor;
    }

    private static void AssertNoViolations(IReadOnlyList<string> violations, FailoverTraffic traffic, BrokerCluster cluster) =>
        Assert.True(violations.Count == 0,
            $"{violations.Count} violations: {string.Join("\n", violations.Take(20))}\n{traffic.Summary()}\n{cluster.Diagnostics()}");

    [Theory(DisplayName = "kill -9 of the master under load: a standby takes over, every receipted message is consumed, duplicates only flagged redelivered")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task KillMasterUnderLoad(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 2);
        var master = await cluster.WaitForMasterAsync(Failover);
        await using var traffic = FailoverTraffic.Start(cluster.StompPorts, "/queue/kill");
        await traffic.WaitForReceiptsAsync(40, Failover, cluster.Diagnostics);
        await traffic.WaitForDeliveriesAsync(10, Failover);

        await cluster.KillAsync(master);
        var successor = await cluster.WaitForMasterAsync(Failover);
        await traffic.WaitForReceiptsAsync(traffic.Producer.Receipted.Count + 40, Failover, cluster.Diagnostics);

        AssertNoViolations(await traffic.FinishAsync(Failover), traffic, cluster);
        Assert.Contains(traffic.Consumer.Deliveries, d => d.Port == successor.StompPort);
    }

    [Theory(DisplayName = "SIGSTOP of the master past the lease TTL: a standby takes over; on SIGCONT the old master steps down without writing, in one unforked history")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf", Skip = FrozenMasterSqlite)]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task FrozenMasterStepsDown(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 2);
        var old = await cluster.WaitForMasterAsync(Failover);
        await using var traffic = FailoverTraffic.Start(cluster.StompPorts, "/queue/freeze");
        await traffic.WaitForReceiptsAsync(40, Failover, cluster.Diagnostics);

        var successor = await FreezeUntilReplacedAsync(cluster, old, traffic);

        cluster.Thaw(old);
        Assert.True(await BrokerCluster.WaitForPortClosedAsync(old, Failover), $"the thawed old master kept its STOMP port open\n{cluster.Diagnostics()}");
        await WaitForOutputAsync(old, "STANDBY", Failover, cluster);
        Assert.True(await successor.Process!.IsStompPortOpenAsync(), $"the new master lost its port when the old one woke\n{cluster.Diagnostics()}");

        // Whatever the old master still answered on connections opened before the freeze counts as promised.
        await traffic.StopProducingAsync();
        await traffic.Producer.DrainAbandonedAsync(TimeSpan.FromSeconds(3));

        // One history: the old master's slot takes over again and recovers the journal the successor wrote; a write by
        // the woken master would show up here as a lost, reordered or unflagged duplicate message.
        if (!old.IsRunning)
        {
            cluster.Start(old);
            await cluster.WaitUntilJoinedAsync(old, BrokerCluster.StartTimeout);
        }

        await cluster.KillAsync(successor);
        var recovered = await cluster.WaitForMasterAsync(Failover);
        if (cluster.Nodes.Count == 2) Assert.Same(old, recovered);
        AssertNoViolations(await traffic.FinishAsync(Failover), traffic, cluster);
    }

    // Found by CI (replicated-raft): the woken master, not yet aware that the others had removed it, saw its successor's
    // port refuse (killed meanwhile), fast-down downed it, keep-majority's 1:1 tie-break then kept the woken node and
    // downed the live standby, and the two survivors sat in two one-node clusters, neither able to be master.
    [Theory(DisplayName = "SIGSTOP of the master, then SIGCONT and at once kill -9 of its successor: the woken node never lives on in a cluster of its own, a master returns, one history")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task SuccessorKilledAsFrozenMasterWakes(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 3);
        var old = await cluster.WaitForMasterAsync(Failover);
        await using var traffic = FailoverTraffic.Start(cluster.StompPorts, "/queue/wake-kill");
        await traffic.WaitForReceiptsAsync(40, Failover, cluster.Diagnostics);

        var successor = await FreezeUntilReplacedAsync(cluster, old, traffic);

        cluster.Thaw(old);
        await cluster.KillAsync(successor);
        Assert.True(await BrokerCluster.WaitForPortClosedAsync(old, Failover), $"the woken old master kept its STOMP port open\n{cluster.Diagnostics()}");
        await cluster.WaitForMasterAsync(Failover);
        await traffic.WaitForReceiptsAsync(traffic.Producer.Receipted.Count + 40, Failover, cluster.Diagnostics);

        AssertNoViolations(await traffic.FinishAsync(Failover), traffic, cluster);
    }

    [Theory(DisplayName = "A killed master restarted on its data directory rejoins as a standby with its port closed, and can take over again")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task RestartedMasterRejoinsAsStandby(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 2);
        var first = await cluster.WaitForMasterAsync(Failover);
        var producer = new ReceiptedProducer(cluster.StompPorts, "/queue/restart");
        await using (producer)
        {
            for (var seq = 0; seq < 20; seq++)
                await producer.SendUntilReceiptedAsync(seq, Failover);

            await cluster.KillAsync(first);
            var second = await cluster.WaitForMasterAsync(Failover);
            cluster.Start(first);
            await cluster.WaitUntilJoinedAsync(first, BrokerCluster.StartTimeout);

            // A standby by observation: its port stays closed while the master keeps serving.
            var watchUntil = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < watchUntil)
            {
                Assert.False(await first.Process!.IsStompPortOpenAsync(), $"the restarted node opened its STOMP port beside a live master\n{cluster.Diagnostics()}");
                Assert.True(await second.Process!.IsStompPortOpenAsync(), $"the master closed its port when the old master rejoined\n{cluster.Diagnostics()}");
                await Task.Delay(200);
            }

            for (var seq = 20; seq < 40; seq++)
                await producer.SendUntilReceiptedAsync(seq, Failover);

            await cluster.KillAsync(second);
            var third = await cluster.WaitForMasterAsync(Failover);
            if (cluster.Nodes.Count == 2) Assert.Same(first, third); // replicated runs 3 nodes: either standby may win
        }

        var consumer = new AckingConsumer(cluster.StompPorts, "/queue/restart");
        using var stop = new CancellationTokenSource();
        var consuming = consumer.RunAsync(stop.Token);
        await consumer.WaitUntilConsumedAsync(producer.Receipted.Keys, TimeSpan.FromSeconds(2), Failover);
        stop.Cancel();
        await consuming;
        var violations = DeliveryCheck.Violations(producer.Receipted.Keys, consumer.Deliveries);
        Assert.True(violations.Count == 0, $"{string.Join("\n", violations)}\n{cluster.Diagnostics()}");
    }

    [Theory(DisplayName = "Three nodes survive two consecutive kill -9 failovers under load without losing a receipted message (replicated: the first victim restarts in between, to keep a Raft majority)")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task TwoConsecutiveFailovers(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 3);
        await using var traffic = FailoverTraffic.Start(cluster.StompPorts, "/queue/twice");
        await traffic.WaitForReceiptsAsync(30, Failover, cluster.Diagnostics);

        for (var failover = 0; failover < 2; failover++)
        {
            var master = await cluster.WaitForMasterAsync(Failover);
            await cluster.KillAsync(master);
            await cluster.WaitForMasterAsync(Failover);
            await traffic.WaitForReceiptsAsync(traffic.Producer.Receipted.Count + 30, Failover, cluster.Diagnostics);
            if (IsReplicated(profile) && failover == 0)
            {
                // Three Raft members survive one loss, not two: the killed one comes back before the second kill.
                cluster.Start(master);
                await cluster.WaitUntilJoinedAsync(master, BrokerCluster.StartTimeout);
            }
        }

        AssertNoViolations(await traffic.FinishAsync(Failover), traffic, cluster);
    }

    [Theory(DisplayName = "Store outage: producers get ERROR frames or closed connections instead of receipts, nothing receipted is lost, service resumes when the store returns")]
    [InlineData("shared-file.conf")]
    [InlineData("sql-sqlite.conf")]
    [InlineData("sql-postgres.conf")]
    [InlineData("replicated.conf")]
    [InlineData("replicated-raft.conf")]
    public async Task StoreOutage(string profile)
    {
        await using var cluster = await StartClusterAsync(profile, 2);
        var master = await cluster.WaitForMasterAsync(Failover);
        var producer = new ReceiptedProducer(cluster.StompPorts, "/queue/outage") { ReceiptTimeout = TimeSpan.FromSeconds(3) };
        var findings = new List<string>();
        await using (producer)
        {
            for (var seq = 0; seq < 20; seq++)
                await producer.SendUntilReceiptedAsync(seq, Failover);

            var bringBack = await TakeStoreAwayAsync(profile, cluster, master);
            var storeGone = DateTime.UtcNow;
            var failuresBefore = producer.Failures;
            DateTime outageEnd;
            try
            {
                var next = 1000;
                while (DateTime.UtcNow - storeGone < TimeSpan.FromSeconds(8))
                    await producer.TrySendAsync(next++, FailoverConnector.AttemptTimeout);
            }
            finally
            {
                outageEnd = DateTime.UtcNow;
                if (await bringBack() is { } recreated)
                    findings.Add(recreated);
            }

            // The lease may need one TTL (1 s) to notice; a receipt after twice that, while the store is away, is a lie.
            var grace = storeGone + TimeSpan.FromSeconds(2);
            findings.AddRange(producer.Receipted
                .Where(r => r.Value.At > grace && r.Value.At < outageEnd)
                .Select(r => $"receipt for {r.Key} at {r.Value.At:HH:mm:ss.fff} while the store was away (gone at {storeGone:HH:mm:ss.fff})"));
            if (producer.Failures == failuresBefore)
                findings.Add("the producer saw no ERROR frame, closed connection or stall during the outage");

            for (var seq = 20; seq < 40; seq++)
                await producer.SendUntilReceiptedAsync(seq, TimeSpan.FromSeconds(120));
        }

        var consumer = new AckingConsumer(cluster.StompPorts, "/queue/outage");
        using var stop = new CancellationTokenSource();
        var consuming = consumer.RunAsync(stop.Token);
        await consumer.WaitUntilConsumedAsync(producer.Receipted.Keys, TimeSpan.FromSeconds(2), Failover);
        stop.Cancel();
        await consuming;
        findings.AddRange(DeliveryCheck.Violations(producer.Receipted.Keys, consumer.Deliveries));
        Assert.True(findings.Count == 0,
            $"{string.Join("\n", findings.Take(20))}\nproducer errors {producer.ErrorFrames} closes {producer.ClosedConnections} stalls {producer.ReceiptTimeouts} no-broker {producer.ConnectFailures}\n{cluster.Diagnostics()}");
    }

    /// <summary>
    /// PostgreSQL, ZooKeeper (the replicated profile's lease): stop the server. replicated-raft, whose store is the Raft
    /// majority: kill -9 every node but the master, then restart them on their data. Shared directory profiles: rename
    /// the directory away (an unmounted share). Returns what brings the store back; its result is a finding when a node
    /// had recreated the shared directory meanwhile.
    /// </summary>
    private async Task<Func<Task<string?>>> TakeStoreAwayAsync(string profile, BrokerCluster cluster, ClusterNode master)
    {
        if (profile == "replicated-raft.conf")
        {
            var others = cluster.Nodes.Where(n => n != master).ToList();
            foreach (var node in others)
                await cluster.KillAsync(node);
            return async () =>
            {
                foreach (var node in others)
                {
                    cluster.Start(node);
                    await cluster.WaitUntilJoinedAsync(node, BrokerCluster.StartTimeout);
                }

                return null;
            };
        }

        if (profile.StartsWith("sql-postgres", StringComparison.Ordinal))
        {
            await servers.Postgres.StopAsync();
            return async () => { await servers.Postgres.StartAsync(); return null; };
        }

        if (profile == "replicated.conf")
        {
            var zooKeeper = await servers.ZooKeeperAsync();
            await zooKeeper.StopAsync();
            return async () => { await zooKeeper.StartAsync(); return null; };
        }

        var away = cluster.SharedDirectory + "-away";
        Directory.Move(cluster.SharedDirectory, away);
        return () => Task.FromResult(BringSharedDirectoryBack(cluster, away));
    }

    private static string? BringSharedDirectoryBack(BrokerCluster cluster, string away)
    {
        string? finding = null;
        if (Directory.Exists(cluster.SharedDirectory))
        {
            var entries = Directory.GetFileSystemEntries(cluster.SharedDirectory, "*", SearchOption.AllDirectories);
            finding = $"a node recreated the missing shared directory during the outage: {string.Join(", ", entries.Select(e => Path.GetRelativePath(cluster.SharedDirectory, e)))}";
            Directory.Move(cluster.SharedDirectory, cluster.SharedDirectory + "-recreated");
        }

        Directory.Move(away, cluster.SharedDirectory);
        return finding;
    }

    /// <summary>
    /// Waits until the node printed <paramref name="text"/>: in the output's tail or among its milestones, which keep
    /// role lines after the tail has scrolled past them (a node restarting its actor system after being downed prints
    /// well over the tail's 200 lines; seen: STANDBY printed, then scrolled out before the first look).
    /// </summary>
    private static async Task WaitForOutputAsync(ClusterNode node, string text, TimeSpan timeout, BrokerCluster cluster)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!node.Output.Contains(text, StringComparison.Ordinal) && !node.Milestones.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"{node} did not log [{text}] within {timeout}\n{cluster.Diagnostics()}");
            await Task.Delay(100);
        }
    }
}
