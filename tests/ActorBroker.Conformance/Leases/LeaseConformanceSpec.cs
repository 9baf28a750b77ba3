using System.Diagnostics;
using ActorBroker.Coordination;
using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Leases;

/// <summary>
/// The lease contract (DESIGN.md), run against every lease kind. Each node is its own ActorSystem in this process; a
/// subclass supplies the store through three hooks: the lease section for an owner, make the store unreachable, restore it.
/// Timings are the kind's reference.conf defaults unless the subclass overrides them, so the measured figures are the
/// ones a deployment gets.
/// </summary>
public abstract class LeaseConformanceSpec : IAsyncLifetime
{
    private readonly List<ActorSystem> _systems = [];
    private int _nodes;

    protected LeaseConformanceSpec(ITestOutputHelper output) => Output = output;

    protected ITestOutputHelper Output { get; }

    /// <summary>Config path of the lease section (what <c>akka.cluster.singleton.use-lease</c> would name).</summary>
    protected abstract string ConfigPath { get; }

    /// <summary>
    /// HOCON body of the lease section for a node whose owner name is <paramref name="owner"/> (store location etc.);
    /// keys not given fall back to the kind's reference.conf defaults.
    /// </summary>
    protected abstract string LeaseSection(string owner);

    /// <summary>Makes the store unreachable for every node (stop the server, move the directory away...).</summary>
    protected abstract Task MakeStoreUnreachableAsync();

    /// <summary>Undoes <see cref="MakeStoreUnreachableAsync"/>.</summary>
    protected abstract Task RestoreStoreAsync();

    /// <summary>Fresh lease name per test: every spec gets its own record.</summary>
    protected string LeaseName { get; } = $"conformance-{Guid.NewGuid():N}";

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var system in _systems) await system.Terminate();
    }

    [Fact(DisplayName = "Lease should never have two holders while several nodes contend for it over many rounds")]
    public async Task ExclusiveUnderContention()
    {
        var nodes = Enumerable.Range(0, 3).Select(_ => StartNode()).ToArray();
        var leases = nodes.Select(n => n.Lease).ToArray();
        var acquisitions = new List<long>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        const int targetAcquisitions = 30;

        var violations = 0;
        var endedBeforeSeen = 0;
        var observer = Task.Run(() =>
        {
            // Two passes over all nodes; a node with the same epoch in both passes held the lease continuously in between,
            // so any other node seen holding in between overlapped with it (one epoch = one continuous hold).
            var first = new long?[leases.Length];
            var second = new long?[leases.Length];
            while (!stop.IsCancellationRequested)
            {
                Thread.Yield(); // a polite spin: the machine has two cores
                for (var i = 0; i < leases.Length; i++) first[i] = leases[i].HeldEpoch;
                for (var i = 0; i < leases.Length; i++) second[i] = leases[i].HeldEpoch;
                for (var i = 0; i < leases.Length; i++)
                {
                    if (first[i] is null || first[i] != second[i]) continue;
                    for (var j = 0; j < leases.Length; j++)
                    {
                        var between = j > i ? first[j] : second[j];
                        if (j != i && between is not null) Interlocked.Increment(ref violations);
                    }
                }
            }
        });

        var contenders = leases.Select(lease => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                bool acquired;
                var grantedUntilBefore = lease.LastValidUntil;
                try
                {
                    acquired = await lease.Acquire();
                }
                catch (LeaseException)
                {
                    acquired = false; // a slow store under contention; just try again
                }

                if (acquired)
                {
                    var epoch = lease.HeldEpoch;
                    if (epoch is null)
                    {
                        // The hold ended before this line ran: the acquiring write was so slow (a loaded CI disk) that
                        // TTL - safety margin from its start had passed, or a heartbeat could not confirm it. That is the
                        // contract at work (a holder in doubt gives up early), not a second holder, and the epoch went
                        // with the hold. This acquire must have granted one, though.
                        Assert.True(lease.LastValidUntil > grantedUntilBefore, "Acquire answered true without granting a hold");
                        Interlocked.Increment(ref endedBeforeSeen);
                    }
                    else
                    {
                        lock (acquisitions)
                        {
                            acquisitions.Add(epoch.Value);
                            if (acquisitions.Count >= targetAcquisitions) stop.Cancel();
                        }
                    }

                    await Task.Delay(Random.Shared.Next(5, 25));
                    try
                    {
                        await lease.Release();
                    }
                    catch (LeaseException)
                    {
                        // the store hiccupped (a ZooKeeper connection loss in a loaded CI run): the record stays until it
                        // expires, which the exclusivity checks below still cover
                    }
                }
                else
                {
                    await Task.Delay(Random.Shared.Next(1, 10));
                }
            }
        })).ToArray();

        await Task.WhenAll(contenders);
        await stop.CancelAsync();
        await observer;

        Output.WriteLine($"{acquisitions.Count} acquisitions, epochs {string.Join(",", acquisitions)}; " +
                         $"{endedBeforeSeen} more ended before their epoch could be read");
        Assert.Equal(0, violations);
        Assert.True(acquisitions.Count >= 10, $"only {acquisitions.Count} acquisitions in 20 s");
        Assert.Equal(acquisitions.Count, acquisitions.Distinct().Count());
        Assert.Equal(acquisitions.Order(), acquisitions); // recorded in acquisition order, so epochs must rise
    }

    [Fact(DisplayName = "Lease should go to another acquirer at its next try after the holder releases it")]
    public async Task ReleaseHandsOver()
    {
        var a = StartNode().Lease;
        var b = StartNode().Lease;

        Assert.True(await a.Acquire());
        Assert.True(a.CheckLease());
        Assert.False(await b.Acquire());

        Assert.True(await a.Release());
        Assert.False(a.CheckLease());
        Assert.True(await b.Acquire());
        Assert.True(b.CheckLease());
        Assert.True(b.HeldEpoch > 0);
    }

    [Fact(DisplayName = "Lease should pass to another node only after the TTL when its holder crashes without releasing")]
    public async Task CrashedHolderIsTakenOverAfterTtl()
    {
        var holder = StartNode();
        var successor = StartNode().Lease;
        var timing = successor.Timing;
        Assert.True(await holder.Lease.Acquire());
        await Task.Delay(timing.HeartbeatInterval * 3.5); // a few heartbeats in, between two ticks, like a holder that has been running

        var crashedAt = Stopwatch.GetTimestamp();
        await holder.System.Terminate(); // no Release: the record stays until it expires

        var takeover = await AcquireWithinAsync(successor, timing.HeartbeatTimeout * 4 + TimeSpan.FromSeconds(5));
        // The TTL runs from the start of the holder's last heartbeat that got through: usually less than one interval
        // before the crash, but more when the store was slow (an fsync or rename behind a busy disk stalls heartbeats).
        var lastHeartbeat = LastHeartbeatStart(holder.Lease);
        var sinceHeartbeat = Stopwatch.GetElapsedTime(lastHeartbeat, takeover);
        Output.WriteLine($"{GetType().Name}: crash -> takeover: {Stopwatch.GetElapsedTime(crashedAt, takeover).TotalMilliseconds:F0} ms, " +
                         $"last heartbeat -> takeover: {sinceHeartbeat.TotalMilliseconds:F0} ms (TTL {timing.HeartbeatTimeout.TotalMilliseconds} ms, " +
                         $"heartbeat {timing.HeartbeatInterval.TotalMilliseconds} ms)");

        Assert.True(sinceHeartbeat >= timing.HeartbeatTimeout - ClockSlack,
            $"taken over {sinceHeartbeat.TotalMilliseconds:F0} ms after the holder's last heartbeat started, before the TTL ({timing.HeartbeatTimeout.TotalMilliseconds} ms)");
    }

    /// <summary>Monotonic and wall clock (a store's record times) differ by up to a few milliseconds.</summary>
    private static readonly TimeSpan ClockSlack = TimeSpan.FromMilliseconds(50);

    /// <summary>Worst overshoot of a 10 ms timer on the thread pool until canceled: how late any timer could fire.</summary>
    private static async Task<TimeSpan> MeasureSchedulerLagAsync(CancellationToken stop)
    {
        var worst = TimeSpan.Zero;
        var tick = TimeSpan.FromMilliseconds(10);
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            try { await Task.Delay(tick, stop); }
            catch (OperationCanceledException) { break; }
            var overshoot = Stopwatch.GetElapsedTime(started) - tick;
            if (overshoot > worst) worst = overshoot;
        }
        return worst;
    }

    private static long LastHeartbeatStart(EpochLease lease)
        => lease.LastValidUntil - (long)(lease.Timing.HoldValidity.TotalSeconds * Stopwatch.Frequency);

    [Fact(DisplayName = "Lease should pass to another node at once, with a higher epoch, when its crashed holder's process is proven gone")]
    public async Task ProvenDeadHolderIsTakenOverAtOnce()
    {
        const string holderOwner = "proven-dead@127.0.0.1:1";
        var holder = StartNode(holderOwner);
        var (successorSystem, successor) = StartNode();
        var timing = successor.Timing;
        Assert.True(await holder.Lease.Acquire());
        var heldEpoch = holder.Lease.HeldEpoch!.Value;
        Assert.False(await successor.Acquire()); // alive and heart-beating: busy

        var crashedAt = Stopwatch.GetTimestamp();
        await holder.System.Terminate(); // no Release: the record stays until it expires
        LeaseHolderObituaries.Get(successorSystem).Record(holderOwner); // what fast-down records on proof

        var takeover = await AcquireWithinAsync(successor, timing.HeartbeatTimeout * 4 + TimeSpan.FromSeconds(5));
        var elapsed = Stopwatch.GetElapsedTime(crashedAt, takeover);
        Output.WriteLine($"{GetType().Name}: proven-dead holder -> takeover: {elapsed.TotalMilliseconds:F0} ms (TTL {timing.HeartbeatTimeout.TotalMilliseconds} ms)");
        Assert.True(elapsed < timing.HeartbeatTimeout - timing.HeartbeatInterval,
            $"taken over {elapsed.TotalMilliseconds:F0} ms after the crash: it waited for the TTL ({timing.HeartbeatTimeout.TotalMilliseconds} ms)");
        Assert.True(successor.HeldEpoch > heldEpoch);
    }

    [Fact(DisplayName = "Lease holder should be told it lost the lease before the TTL when the store becomes unreachable")]
    public async Task StoreOutageLosesTheLeaseBeforeTtl()
    {
        var holder = StartNode().Lease;
        var lost = new TaskCompletionSource<(long At, Exception Reason)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await holder.Acquire(reason => lost.TrySetResult((Stopwatch.GetTimestamp(), reason))));

        var outageAt = Stopwatch.GetTimestamp();
        // The callback is delivered by the lease's actor on the thread pool; when the test host's other suites saturate
        // both cores, a timer can fire hundreds of ms late (seen: 334 ms). The probe measures that scheduling lag over
        // the same window, so the lease is held to "before the TTL, give or take what the scheduler itself lost".
        using var probeStop = new CancellationTokenSource();
        var schedulerLag = MeasureSchedulerLagAsync(probeStop.Token);
        await MakeStoreUnreachableAsync();
        try
        {
            var (at, reason) = await lost.Task.WaitAsync(holder.Timing.HeartbeatTimeout * 4 + TimeSpan.FromSeconds(5));
            await probeStop.CancelAsync();
            var lag = await schedulerLag;
            // Timed from the start of the last heartbeat that got through: before the outage, or during it when making
            // the store unreachable was itself slow (a rename behind a busy disk).
            var sinceHeartbeat = Stopwatch.GetElapsedTime(LastHeartbeatStart(holder), at);
            Output.WriteLine($"{GetType().Name}: outage -> lease-lost callback: {Stopwatch.GetElapsedTime(outageAt, at).TotalMilliseconds:F0} ms, " +
                             $"last heartbeat -> callback: {sinceHeartbeat.TotalMilliseconds:F0} ms, worst scheduler lag {lag.TotalMilliseconds:F0} ms ({reason.Message})");
            Assert.False(holder.CheckLease());
            Assert.Null(holder.HeldEpoch);
            Assert.True(sinceHeartbeat < holder.Timing.HeartbeatTimeout + lag,
                $"callback {sinceHeartbeat.TotalMilliseconds:F0} ms after the last heartbeat started, not before the TTL " +
                $"(plus the {lag.TotalMilliseconds:F0} ms the scheduler lost meanwhile)");
        }
        finally
        {
            await RestoreStoreAsync();
        }

        // The store is back: the lease works again for the same node.
        var again = await AcquireWithinAsync(holder, holder.Timing.HeartbeatTimeout * 4 + TimeSpan.FromSeconds(10));
        Assert.True(again > outageAt);
        Assert.True(holder.CheckLease());
    }

    [Fact(DisplayName = "Lease epochs should strictly increase across holders and restarts and reach FencingTokens")]
    public async Task EpochsIncreaseAcrossHoldersAndRestarts()
    {
        var epochs = new List<long>();
        for (var life = 0; life < 3; life++)
        {
            // Every round is a new ActorSystem with a new lease instance: a restart of the node.
            var node = StartNode($"restart-owner-{life % 2}");
            Assert.True(await node.Lease.Acquire());
            var epoch = node.Lease.HeldEpoch!.Value;
            Assert.Equal(epoch, FencingTokens.Get(node.System).Current);
            epochs.Add(epoch);
            Assert.True(await node.Lease.Release());
            await node.System.Terminate();
        }

        Output.WriteLine($"epochs: {string.Join(", ", epochs)}");
        Assert.Equal(epochs.Order(), epochs);
        Assert.Equal(epochs.Count, epochs.Distinct().Count());
    }

    [Fact(DisplayName = "Lease holder frozen past the TTL should learn it lost the lease before a new holder takes it")]
    public async Task FrozenHolderLosesTheLease()
    {
        var holder = StartNode().Lease;
        var successor = StartNode().Lease;
        var lost = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(await holder.Acquire(_ => lost.TrySetResult(Stopwatch.GetTimestamp())));
        var heldEpoch = holder.HeldEpoch;

        var frozenAt = Stopwatch.GetTimestamp();
        await holder.SetHeartbeatPausedAsync(true);
        var takeover = await AcquireWithinAsync(successor, holder.Timing.HeartbeatTimeout * 4 + TimeSpan.FromSeconds(5));

        Assert.True(lost.Task.IsCompleted, "the frozen holder was not told before the takeover");
        var lostAt = await lost.Task;
        Output.WriteLine($"{GetType().Name}: freeze -> lost callback {Stopwatch.GetElapsedTime(frozenAt, lostAt).TotalMilliseconds:F0} ms, " +
                         $"-> takeover {Stopwatch.GetElapsedTime(frozenAt, takeover).TotalMilliseconds:F0} ms");
        Assert.True(lostAt < takeover);
        Assert.False(holder.CheckLease());
        Assert.True(successor.CheckLease());
        Assert.True(successor.HeldEpoch > heldEpoch);

        // Thawed, the old holder stays out: its next acquire finds the lease held.
        await holder.SetHeartbeatPausedAsync(false);
        Assert.False(await holder.Acquire());
    }

    [Fact(DisplayName = "Lease store should serve acquire and release round trips far faster than heart-beats need")]
    public async Task MeasuresStoreThroughput()
    {
        var lease = StartNode().Lease;
        Assert.True(await lease.Acquire()); // first use creates tables / files
        Assert.True(await lease.Release());

        var cycles = 0;
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(2))
        {
            Assert.True(await lease.Acquire());
            Assert.True(await lease.Release());
            cycles++;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var operationsPerSecond = cycles * 3 / elapsed.TotalSeconds; // read + conditional write + release write
        Output.WriteLine($"{GetType().Name}: {cycles} acquire/release cycles in {elapsed.TotalMilliseconds:F0} ms: " +
                         $"{operationsPerSecond:F0} store operations/s from one node; a holder needs " +
                         $"{1 / lease.Timing.HeartbeatInterval.TotalSeconds:F1}/s");
        // Generous floor for a loaded 2-core machine: ten times what one heart-beating holder needs.
        Assert.True(operationsPerSecond > 10 / lease.Timing.HeartbeatInterval.TotalSeconds,
            $"only {operationsPerSecond:F0} store operations/s");
    }

    [Fact(DisplayName = "Lease should refuse to start with a clear error when heartbeat-interval plus safety-margin reach the TTL")]
    public void RejectsTimingWithoutRoomForAHeartbeat()
    {
        var bad = LeaseSection("bad") + "\nheartbeat-timeout = 1s, heartbeat-interval = 400ms, safety-margin = 700ms";
        var error = AssertConfigurationError(() => StartNode("bad", bad));
        Assert.Contains("safety-margin", error.Message);
    }

    /// <summary>Starting a node (creating its lease) must fail with a ConfigurationException, which is returned.</summary>
    protected ConfigurationException AssertConfigurationError(Action start)
    {
        var thrown = Assert.ThrowsAny<Exception>(start);
        for (Exception? e = thrown; e is not null; e = e.InnerException)
            if (e is ConfigurationException configurationError) return configurationError;
        throw new Xunit.Sdk.XunitException($"expected a ConfigurationException, got {thrown}");
    }

    /// <summary>A node: its own ActorSystem and the lease instance LeaseProvider gives it.</summary>
    protected (ActorSystem System, EpochLease Lease) StartNode(string? owner = null, string? section = null)
    {
        var index = Interlocked.Increment(ref _nodes);
        owner ??= $"node-{index}@127.0.0.1:{index}";
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING")
            .WithFallback(ConfigurationFactory.ParseString($"{ConfigPath} {{\n{section ?? LeaseSection(owner)}\n}}"))
            .WithFallback(CoordinationConfig.Default);
        var system = ActorSystem.Create($"lease-node-{index}", config);
        _systems.Add(system);
        try
        {
            return (system, (EpochLease)LeaseProvider.Get(system).GetLease(LeaseName, ConfigPath, owner));
        }
        catch
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
    }

    /// <summary>Tries to acquire every 20 ms until it succeeds; returns the Stopwatch timestamp of success.</summary>
    protected static async Task<long> AcquireWithinAsync(EpochLease lease, TimeSpan within)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(within.TotalSeconds * Stopwatch.Frequency);
        Exception? lastError = null;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                if (await lease.Acquire()) return Stopwatch.GetTimestamp();
            }
            catch (LeaseException e)
            {
                lastError = e;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"lease not acquired within {within}; last error: {lastError?.Message}");
    }
}
