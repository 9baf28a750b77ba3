using System.Diagnostics;
using ActorBroker.Coordination;
using ActorBroker.Coordination.Internal;
using Akka.Actor;
using Akka.Coordination;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Tests.Coordination;

/// <summary>The lease state machine against a scripted store (see <see cref="ProbeLeaseStore"/>).</summary>
public sealed class LeaseActorSpec : TestKit
{
    private const string LeaseName = "spec-lease";
    private readonly TestProbe _storeProbe;
    private readonly ProbeLeaseStore _store;
    private readonly LeaseHold _hold = new();

    // Heartbeats every 200 ms; a hold is trusted for 10 s - 300 ms, so a slow (loaded) test machine never sees a hold
    // expire in a spec about something else.
    private readonly LeaseTiming _timing = LeaseTiming.Create(
        heartbeatInterval: TimeSpan.FromMilliseconds(200), heartbeatTimeout: TimeSpan.FromSeconds(10),
        operationTimeout: TimeSpan.FromSeconds(3), safetyMargin: TimeSpan.FromMilliseconds(300), "spec");

    // For the specs about expiry: the holder trusts a heartbeat for 1 s - 300 ms = 700 ms.
    private readonly LeaseTiming _shortTiming = LeaseTiming.Create(
        heartbeatInterval: TimeSpan.FromMilliseconds(200), heartbeatTimeout: TimeSpan.FromSeconds(1),
        operationTimeout: TimeSpan.FromSeconds(3), safetyMargin: TimeSpan.FromMilliseconds(300), "spec");

    public LeaseActorSpec(ITestOutputHelper output) : base("akka.loglevel = DEBUG", output: output)
    {
        _storeProbe = CreateTestProbe("store");
        _store = new ProbeLeaseStore(_storeProbe);
    }

    [Fact(DisplayName = "LeaseActor should acquire a free lease, reply its epoch and publish it as fencing token")]
    public void AcquiresFreeLease()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Free(epoch: 4, version: 9));

        var write = ExpectCallWith("acquire");
        Assert.Equal(9, write.Argument!.Version);
        _storeProbe.Reply(CasResult<long>.Success(_store.Mine(5, 10)));

        Assert.Equal(5, ExpectMsg<LeaseAcquired>().Epoch);
        Assert.True(_hold.IsValid);
        Assert.Equal(5, FencingTokens.Get(Sys).Current);
    }

    [Fact(DisplayName = "LeaseActor should answer busy without writing when another owner holds an unexpired lease")]
    public void ReportsBusyWhenHeldByOther()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Other(epoch: 3, version: 7));

        ExpectMsg<LeaseBusy>();
        _storeProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.False(_hold.IsValid);
    }

    [Fact(DisplayName = "LeaseActor should take over a lease whose holder expired")]
    public void TakesOverExpiredLease()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Other(epoch: 3, version: 7, expired: true));
        ExpectCall("acquire").Reply(CasResult<long>.Success(_store.Mine(4, 8)));
        Assert.Equal(4, ExpectMsg<LeaseAcquired>().Epoch);
    }

    [Fact(DisplayName = "LeaseActor should take over at once an unexpired lease whose holder's process is proven gone, as a conditional write of the record it read")]
    public void TakesOverLeaseOfDeadHolder()
    {
        LeaseHolderObituaries.Get(Sys).Record("other@127.0.0.1:2");
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Other(epoch: 3, version: 7));

        var write = ExpectCallWith("acquire");
        Assert.Equal(7, write.Argument!.Version);
        Assert.True(write.Argument.IsExpired); // the store's licence to take an unexpired record, at this version only
        _storeProbe.Reply(CasResult<long>.Success(_store.Mine(4, 8)));
        Assert.Equal(4, ExpectMsg<LeaseAcquired>().Epoch);
    }

    [Fact(DisplayName = "LeaseActor should still answer busy for a live holder when another owner was recorded dead, and again once the dead owner came back")]
    public void ObituaryOfAnotherOwnerChangesNothing()
    {
        var obituaries = LeaseHolderObituaries.Get(Sys);
        obituaries.Record("someone-else@127.0.0.1:3");
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Other(epoch: 3, version: 7));
        ExpectMsg<LeaseBusy>();

        obituaries.Record("other@127.0.0.1:2");
        obituaries.Forget("other@127.0.0.1:2"); // it rejoined: a new process answers there
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Other(epoch: 3, version: 7));
        ExpectMsg<LeaseBusy>();
        _storeProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact(DisplayName = "LeaseActor should answer busy when it loses the conditional write race")]
    public void LosesWriteRace()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Free(epoch: 1, version: 2));
        ExpectCall("acquire").Reply(CasResult<long>.Conflict(ProbeLeaseStore.Other(epoch: 2, version: 3)));
        ExpectMsg<LeaseBusy>();
        Assert.False(_hold.IsValid);
    }

    [Fact(DisplayName = "LeaseActor should fail the acquire with a LeaseException when the store cannot be read")]
    public void FailsAcquireOnReadError()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(new Status.Failure(new IOException("disk gone")));
        var failure = ExpectMsg<Status.Failure>();
        Assert.IsType<LeaseException>(failure.Cause);
        Assert.Contains("disk gone", failure.Cause.Message);
    }

    [Fact(DisplayName = "LeaseActor should fail the acquire with a LeaseTimeoutException when the store does not answer in time")]
    public void FailsAcquireOnStoreTimeout()
    {
        var timing = LeaseTiming.Create(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300),
            TimeSpan.FromMilliseconds(300), "spec");
        var lease = StartLease(timing);
        lease.Tell(new AcquireLease(null));
        ExpectCall("read"); // never answered
        var failure = ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(5));
        Assert.IsType<LeaseTimeoutException>(failure.Cause);
    }

    [Fact(DisplayName = "LeaseActor should heart-beat the hold it acquired on every interval")]
    public void HeartbeatsWhileGranted()
    {
        var lease = StartLease();
        Acquire(lease, epoch: 1);

        for (var version = 2; version <= 4; version++)
        {
            var heartbeat = ExpectCallWith("heartbeat");
            Assert.Equal(1, heartbeat.Argument!.Epoch);
            _storeProbe.Reply(CasResult<long>.Success(_store.Mine(1, version)));
        }

        Assert.True(_hold.IsValid);
    }

    [Fact(DisplayName = "LeaseActor should call the lease-lost callback and stop claiming the lease when a heartbeat finds a new holder")]
    public void LosesLeaseOnHeartbeatConflict()
    {
        var lease = StartLease();
        var lost = CreateTestProbe();
        Acquire(lease, epoch: 1, reason => lost.Ref.Tell(reason));

        ExpectCall("heartbeat").Reply(CasResult<long>.Conflict(ProbeLeaseStore.Other(epoch: 2, version: 5)));
        var reason = lost.ExpectMsg<LeaseException>();
        Assert.Contains("taken over", reason.Message);
        Assert.False(_hold.IsValid);
        _storeProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // no more heartbeats
    }

    [Fact(DisplayName = "LeaseActor should give the lease up on its own before the TTL when heartbeats keep failing")]
    public async Task SelfExpiresBeforeTtlWhenHeartbeatsFail()
    {
        var lease = StartLease(_shortTiming);
        var lost = CreateTestProbe();
        var (requestedAt, writtenBy) = Acquire(lease, epoch: 1, reason => lost.Ref.Tell(reason));
        var validUntil = _hold.ValidUntil;

        // Fail every heartbeat: the hold must end at (acquire write start + TTL - margin), before the TTL. The deadline is
        // checked, not the arrival of the callback, which a loaded machine may deliver late (the hold is time-based, so
        // IsValid turns false at the deadline whatever the scheduler does).
        var failures = Task.Run(() =>
        {
            while (true)
            {
                var call = _storeProbe.ReceiveOne(TimeSpan.FromSeconds(3));
                if (call is null) return;
                _storeProbe.LastSender.Tell(new Status.Failure(new IOException("unreachable")));
            }
        });

        lost.ExpectMsg<LeaseTimeoutException>(TimeSpan.FromSeconds(5));
        Assert.False(_hold.IsValid);
        var validity = _shortTiming.HoldValidity;
        Assert.True(validUntil <= writtenBy + Ticks(validity), "the hold outlives write start + TTL - margin");
        Assert.True(validUntil >= requestedAt + Ticks(validity), "the hold ends before write start + TTL - margin");
        Assert.True(validity < _shortTiming.HeartbeatTimeout);
        await failures.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact(DisplayName = "LeaseActor should keep the lease across a failed heartbeat when the next one succeeds")]
    public void SurvivesOneFailedHeartbeat()
    {
        var lease = StartLease();
        var lost = CreateTestProbe();
        Acquire(lease, epoch: 1, reason => lost.Ref.Tell(reason));

        ExpectCall("heartbeat").Reply(new Status.Failure(new IOException("blip")));
        ExpectCall("heartbeat").Reply(CasResult<long>.Success(_store.Mine(1, 3)));
        ExpectCall("heartbeat").Reply(CasResult<long>.Success(_store.Mine(1, 4)));
        lost.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.True(_hold.IsValid);
    }

    [Fact(DisplayName = "LeaseActor should release its hold in the store and stop claiming the lease at once")]
    public void ReleasesHold()
    {
        var lease = StartLease();
        Acquire(lease, epoch: 7);

        lease.Tell(ReleaseLease.Instance);
        var call = ExpectCallSkippingHeartbeats("release");
        Assert.Equal(7, call.Argument!.Epoch);
        Assert.False(_hold.IsValid); // before the store answered
        _storeProbe.Reply(true);
        Assert.True(ExpectMsg<LeaseReleased>().WasHeld);
    }

    [Fact(DisplayName = "LeaseActor should answer a release without a hold with 'nothing released' and no store call")]
    public void ReleaseWhenIdleIsNoOp()
    {
        var lease = StartLease();
        lease.Tell(ReleaseLease.Instance);
        Assert.False(ExpectMsg<LeaseReleased>().WasHeld);
        _storeProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact(DisplayName = "LeaseActor should hold back a release that arrives mid-acquire until the acquire finished")]
    public void DefersReleaseDuringAcquire()
    {
        var lease = StartLease();
        lease.Tell(new AcquireLease(null));
        ExpectCall("read").Reply(ProbeLeaseStore.Free());
        lease.Tell(ReleaseLease.Instance);
        ExpectCall("acquire").Reply(CasResult<long>.Success(_store.Mine(1, 1)));

        ExpectMsg<LeaseAcquired>();
        ExpectCallSkippingHeartbeats("release");
        _storeProbe.Reply(true);
        Assert.True(ExpectMsg<LeaseReleased>().WasHeld);
        Assert.False(_hold.IsValid);
    }

    [Fact(DisplayName = "LeaseActor should stop heart-beating while paused by the test hook and then lose the lease")]
    public void PausedHeartbeatsLoseTheLease()
    {
        var lease = StartLease(_shortTiming);
        var lost = CreateTestProbe();
        Acquire(lease, epoch: 1, reason => lost.Ref.Tell(reason));
        lease.Tell(new SetHeartbeatPaused(true));
        ExpectMsg<Akka.Done>();

        // At most the heartbeat that was already due; then silence until self-expiry.
        var call = _storeProbe.ReceiveOne(TimeSpan.FromMilliseconds(300));
        if (call is not null) _storeProbe.Reply(CasResult<long>.Success(_store.Mine(1, 2)));
        lost.ExpectMsg<LeaseTimeoutException>(TimeSpan.FromSeconds(3));
        _storeProbe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.False(_hold.IsValid);
    }

    private IActorRef StartLease(LeaseTiming? timing = null) =>
        Sys.ActorOf(LeaseActor<long>.Props(_store, timing ?? _timing, LeaseName, _hold, FencingTokens.Get(Sys), LeaseHolderObituaries.Get(Sys)));

    /// <summary>
    /// Scripts a successful acquire of <paramref name="epoch"/>; returns the Stopwatch times just before the read was
    /// answered and just after the acquire write was seen: the lease actor's write start lies between them.
    /// </summary>
    private (long RequestedAt, long WrittenBy) Acquire(IActorRef lease, long epoch, Action<Exception>? lostCallback = null)
    {
        lease.Tell(new AcquireLease(lostCallback));
        ExpectCallWith("read");
        var requestedAt = Stopwatch.GetTimestamp();
        _storeProbe.Reply(ProbeLeaseStore.Free(epoch - 1, 1));
        ExpectCallWith("acquire");
        var writtenBy = Stopwatch.GetTimestamp();
        _storeProbe.Reply(CasResult<long>.Success(_store.Mine(epoch, 2)));
        Assert.Equal(epoch, ExpectMsg<LeaseAcquired>().Epoch);
        return (requestedAt, writtenBy);
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Expects the next store call to be <paramref name="operation"/>; returns the probe to reply with.</summary>
    private TestProbe ExpectCall(string operation)
    {
        ExpectCallWith(operation);
        return _storeProbe;
    }

    private StoreCall ExpectCallWith(string operation)
    {
        var call = _storeProbe.ExpectMsg<StoreCall>(TimeSpan.FromSeconds(5));
        Assert.Equal(operation, call.Operation);
        return call;
    }

    private StoreCall ExpectCallSkippingHeartbeats(string operation)
    {
        while (true)
        {
            var call = _storeProbe.ExpectMsg<StoreCall>(TimeSpan.FromSeconds(5));
            if (call.Operation == operation) return call;
            Assert.Equal("heartbeat", call.Operation);
            _storeProbe.Reply(CasResult<long>.Success(call.Argument!));
        }
    }
}
