using Akka;
using System.Diagnostics;
using Akka.Actor;
using Akka.Coordination;
using Akka.Event;

namespace ActorBroker.Coordination.Internal;

internal enum LeaseState
{
    /// <summary>Not held, nothing in flight.</summary>
    Idle,
    /// <summary>Acquire requested; reading the record.</summary>
    Reading,
    /// <summary>The record was free, expired or ours; the conditional write that takes it is in flight.</summary>
    Granting,
    /// <summary>Held: heart-beating, and giving the lease up on its own when no heartbeat got through in time.</summary>
    Granted,
    /// <summary>Release requested; the conditional write that frees the record is in flight.</summary>
    Releasing,
}

internal interface ILeaseData;

/// <summary>State data that owes <see cref="ReplyTo"/> an answer.</summary>
internal interface IReplyRequired
{
    IActorRef ReplyTo { get; }
}

internal sealed class IdleData : ILeaseData
{
    public static readonly IdleData Instance = new();
    private IdleData() { }
    public override string ToString() => "IdleData";
}

internal sealed record AcquiringData(IActorRef ReplyTo, Action<Exception>? LostCallback) : ILeaseData, IReplyRequired;

/// <param name="Held">The record as our last successful write left it.</param>
/// <param name="ValidUntil">Self-expiry instant (Stopwatch timestamp): last successful heartbeat's start + TTL - safety margin.</param>
internal sealed record GrantedData<TVersion>(
    LeaseRecord<TVersion> Held, Action<Exception>? LostCallback, long ValidUntil, bool HeartbeatInFlight) : ILeaseData;

internal sealed record ReleasingData(IActorRef ReplyTo) : ILeaseData, IReplyRequired;

/// <summary>
/// The one lease state machine, for every backend: Idle → Reading → Granting → Granted → Releasing → Idle, over an
/// <see cref="ILeaseStore{TVersion}"/>. Store calls run off the actor and come back as typed messages (never awaited in
/// a receive). While Granted it heart-beats every interval and holds the lease only until (start of the last successful
/// heartbeat + TTL - safety margin) on the monotonic clock; past that instant it fires the lease-lost callback on its
/// own, which is before any other node can judge the record expired.
/// </summary>
internal sealed class LeaseActor<TVersion> : FSM<LeaseState, ILeaseData>, IWithUnboundedStash
{
    internal const string HeartbeatTimer = "heartbeat";
    internal const string SelfExpiryTimer = "self-expiry";

    private readonly ILeaseStore<TVersion> _store;
    private readonly LeaseTiming _timing;
    private readonly string _leaseName;
    private readonly LeaseHold _hold;
    private readonly FencingTokens _fencingTokens;
    private readonly LeaseHolderObituaries _obituaries;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly long _holdValidityTicks;
    private bool _heartbeatPaused;

    public LeaseActor(ILeaseStore<TVersion> store, LeaseTiming timing, string leaseName, LeaseHold hold, FencingTokens fencingTokens,
        LeaseHolderObituaries obituaries)
    {
        _obituaries = obituaries;
        _store = store;
        _timing = timing;
        _leaseName = leaseName;
        _hold = hold;
        _fencingTokens = fencingTokens;
        _holdValidityTicks = ToTicks(timing.HoldValidity);

        StartWith(LeaseState.Idle, IdleData.Instance);

        When(LeaseState.Idle, e => e.FsmEvent switch
        {
            AcquireLease acquire => StartRead(acquire),
            ReleaseLease => Stay().Replying(new LeaseReleased(false)),
            _ => null,
        });

        When(LeaseState.Reading, e => (e.FsmEvent, e.StateData) switch
        {
            (ReadCompleted<TVersion> { Error: { } error }, AcquiringData data) => FailAcquire(data, "read", error),
            (ReadCompleted<TVersion> { Record: { } record }, AcquiringData data) => OnRecordRead(record, data),
            (AcquireLease, _) => RefuseConcurrentAcquire(),
            (ReleaseLease, _) => StashForLater(),
            _ => null,
        });

        When(LeaseState.Granting, e => (e.FsmEvent, e.StateData) switch
        {
            (AcquireCompleted<TVersion> { Error: { } error }, AcquiringData data) => FailAcquire(data, "write", error),
            (AcquireCompleted<TVersion> { Result: { } result } done, AcquiringData data) => OnAcquireWritten(result, done.IssuedAt, data),
            (AcquireLease, _) => RefuseConcurrentAcquire(),
            (ReleaseLease, _) => StashForLater(),
            _ => null,
        });

        When(LeaseState.Granted, e => e.StateData is GrantedData<TVersion> data
            ? e.FsmEvent switch
            {
                AcquireLease => Stay().Replying(new LeaseAcquired(data.Held.Epoch)),
                HeartbeatTick => OnHeartbeatTick(data),
                HeartbeatCompleted<TVersion> done when done.Epoch == data.Held.Epoch => OnHeartbeatCompleted(done, data),
                SelfExpiryCheck => OnSelfExpiryCheck(data),
                ReleaseLease => StartRelease(data),
                _ => null,
            }
            : null);

        When(LeaseState.Releasing, e => (e.FsmEvent, e.StateData) switch
        {
            (ReleaseCompleted { Error: { } error }, ReleasingData data) => FailRelease(data, error),
            (ReleaseCompleted { WasHeld: { } wasHeld }, ReleasingData data) => OnReleased(wasHeld, data),
            (AcquireLease or ReleaseLease, _) => StashForLater(),
            _ => null,
        });

        WhenUnhandled(e =>
        {
            switch (e.FsmEvent)
            {
                case SetHeartbeatPaused pause:
                    _heartbeatPaused = pause.Paused;
                    _log.Warning("Lease [{0}] owner [{1}]: heartbeats {2} (test hook)", _leaseName, _store.Owner,
                        pause.Paused ? "paused" : "resumed");
                    return Stay().Replying(Done.Instance);
                case ReadCompleted<TVersion> or AcquireCompleted<TVersion> or HeartbeatCompleted<TVersion> or ReleaseCompleted
                    or HeartbeatTick or SelfExpiryCheck:
                    // Late answer or timer of an operation this state no longer waits for.
                    _log.Debug("Lease [{0}] owner [{1}]: ignoring stale [{2}] in state [{3}]", _leaseName, _store.Owner,
                        e.FsmEvent.GetType().Name, StateName);
                    return Stay();
                default:
                    _log.Warning("Lease [{0}] owner [{1}]: unexpected [{2}] in state [{3}]", _leaseName, _store.Owner,
                        e.FsmEvent, StateName);
                    return Stay();
            }
        });

        OnTransition((from, to) =>
        {
            _log.Debug("Lease [{0}] owner [{1}] state change [{2} -> {3}]", _leaseName, _store.Owner, from, to);
            if (to == LeaseState.Granted && NextStateData is GrantedData<TVersion> granted)
            {
                SetTimer(HeartbeatTimer, HeartbeatTick.Instance, _timing.HeartbeatInterval, repeat: true);
                ArmSelfExpiry(granted.ValidUntil);
            }

            if (from == LeaseState.Granted)
            {
                CancelTimer(HeartbeatTimer);
                CancelTimer(SelfExpiryTimer);
            }

            // Requests that arrived mid-operation are served by the state we just reached.
            if (from is LeaseState.Reading or LeaseState.Granting or LeaseState.Releasing) Stash.UnstashAll();
        });

        Initialize();
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(ILeaseStore<TVersion> store, LeaseTiming timing, string leaseName, LeaseHold hold, FencingTokens tokens,
        LeaseHolderObituaries obituaries) =>
        Akka.Actor.Props.Create(() => new LeaseActor<TVersion>(store, timing, leaseName, hold, tokens, obituaries));

    protected override void PostStop()
    {
        // An actor that stops (system shutdown) no longer heart-beats, so it must not claim the lease any more.
        _hold.Clear();
        base.PostStop();
    }

    private State<LeaseState, ILeaseData> StartRead(AcquireLease acquire)
    {
        Run(ct => _store.ReadAsync(ct),
            record => new ReadCompleted<TVersion>(record, null),
            error => new ReadCompleted<TVersion>(null, error));
        return GoTo(LeaseState.Reading).Using(new AcquiringData(Sender, acquire.LeaseLostCallback));
    }

    private State<LeaseState, ILeaseData> OnRecordRead(LeaseRecord<TVersion> record, AcquiringData data)
    {
        if (!record.IsFree && !record.IsExpired && !record.IsHeldBy(_store.Owner, _store.Incarnation) && _obituaries.IsDead(record.Owner))
        {
            // Its process is proven gone: nobody can heart-beat this record any more, so its TTL is only a wait. The
            // conditional write below still fails if the record changed since this read.
            _log.Info("Lease [{0}] owner [{1}]: taking over from [{2}] incarnation [{3}] epoch {4}, whose process is gone, without waiting for its TTL",
                _leaseName, _store.Owner, record.Owner, record.Incarnation, record.Epoch);
            record = record with { IsExpired = true };
        }
        else if (record.IsExpired)
        {
            _log.Info("Lease [{0}] owner [{1}]: taking over from [{2}] incarnation [{3}] epoch {4}, which stopped heart-beating",
                _leaseName, _store.Owner, record.Owner, record.Incarnation, record.Epoch);
        }

        if (!record.IsFree && !record.IsExpired && !record.IsHeldBy(_store.Owner, _store.Incarnation))
        {
            data.ReplyTo.Tell(new LeaseBusy(record.ToString()));
            return GoTo(LeaseState.Idle).Using(IdleData.Instance);
        }

        var issuedAt = Stopwatch.GetTimestamp(); // before the write: the hold is valid for a TTL from here at most
        Run(ct => _store.TryAcquireAsync(record, ct),
            result => new AcquireCompleted<TVersion>(result, null, issuedAt),
            error => new AcquireCompleted<TVersion>(null, error, issuedAt));
        return GoTo(LeaseState.Granting);
    }

    private State<LeaseState, ILeaseData> OnAcquireWritten(CasResult<TVersion> result, long issuedAt, AcquiringData data)
    {
        if (!result.Succeeded)
        {
            _log.Debug("Lease [{0}] owner [{1}]: lost the race to acquire, now {2}", _leaseName, _store.Owner, result.Record);
            data.ReplyTo.Tell(new LeaseBusy(result.Record.ToString()));
            return GoTo(LeaseState.Idle).Using(IdleData.Instance);
        }

        var validUntil = issuedAt + _holdValidityTicks;
        var epoch = result.Record.Epoch;
        if (Stopwatch.GetTimestamp() >= validUntil)
        {
            // The write went through so late that another node may already judge it expired: do not trust it.
            return FailAcquire(data, "write", new LeaseTimeoutException(
                $"Lease [{_leaseName}] owner [{_store.Owner}]: acquiring epoch {epoch} took longer than the hold validity " +
                $"({_timing.HoldValidity.TotalMilliseconds} ms)"));
        }

        _hold.Grant(epoch, validUntil);
        _fencingTokens.Advance(epoch);
        _log.Info("Lease [{0}] acquired by owner [{1}] incarnation [{2}] with epoch {3}", _leaseName, _store.Owner,
            _store.Incarnation, epoch);
        data.ReplyTo.Tell(new LeaseAcquired(epoch));
        return GoTo(LeaseState.Granted).Using(new GrantedData<TVersion>(result.Record, data.LostCallback, validUntil, false));
    }

    private State<LeaseState, ILeaseData> OnHeartbeatTick(GrantedData<TVersion> data)
    {
        if (Stopwatch.GetTimestamp() >= data.ValidUntil) return Lost(data, SelfExpired(data));
        if (_heartbeatPaused || data.HeartbeatInFlight) return Stay();

        var issuedAt = Stopwatch.GetTimestamp();
        var epoch = data.Held.Epoch;
        Run(ct => _store.HeartbeatAsync(data.Held, ct),
            result => new HeartbeatCompleted<TVersion>(epoch, result, null, issuedAt),
            error => new HeartbeatCompleted<TVersion>(epoch, null, error, issuedAt));
        return Stay().Using(data with { HeartbeatInFlight = true });
    }

    private State<LeaseState, ILeaseData> OnHeartbeatCompleted(HeartbeatCompleted<TVersion> done, GrantedData<TVersion> data)
    {
        var now = Stopwatch.GetTimestamp();
        if (done.Error is { } error)
        {
            if (now >= data.ValidUntil) return Lost(data, SelfExpired(data));
            _log.Warning("Lease [{0}] owner [{1}] epoch {2}: heartbeat failed, still held for {3} ms: {4}", _leaseName,
                _store.Owner, data.Held.Epoch, ToMilliseconds(data.ValidUntil - now), error.Message);
            return Stay().Using(data with { HeartbeatInFlight = false });
        }

        var result = done.Result!;
        if (!result.Succeeded)
            return Lost(data, new LeaseException(
                $"Lease [{_leaseName}] owner [{_store.Owner}] epoch {data.Held.Epoch} was taken over: now {result.Record}"));

        var validUntil = Math.Max(data.ValidUntil, done.IssuedAt + _holdValidityTicks);
        if (now >= validUntil) return Lost(data, SelfExpired(data));

        _hold.Extend(validUntil);
        ArmSelfExpiry(validUntil);
        return Stay().Using(data with { Held = result.Record, ValidUntil = validUntil, HeartbeatInFlight = false });
    }

    private State<LeaseState, ILeaseData> OnSelfExpiryCheck(GrantedData<TVersion> data)
    {
        if (Stopwatch.GetTimestamp() >= data.ValidUntil) return Lost(data, SelfExpired(data));
        ArmSelfExpiry(data.ValidUntil); // fired early (timer resolution): look again at the real instant
        return Stay();
    }

    private State<LeaseState, ILeaseData> Lost(GrantedData<TVersion> data, Exception reason)
    {
        _hold.Clear();
        _log.Warning("Lease [{0}] lost by owner [{1}] incarnation [{2}] epoch {3}: {4}", _leaseName, _store.Owner,
            _store.Incarnation, data.Held.Epoch, reason.Message);
        try
        {
            data.LostCallback?.Invoke(reason);
        }
        catch (Exception e)
        {
            _log.Error(e, "Lease [{0}] owner [{1}]: lease-lost callback threw", _leaseName, _store.Owner);
        }

        return GoTo(LeaseState.Idle).Using(IdleData.Instance);
    }

    private State<LeaseState, ILeaseData> StartRelease(GrantedData<TVersion> data)
    {
        _hold.Clear(); // stop claiming the lease before the store hears about it
        Run(ct => _store.ReleaseAsync(data.Held, ct),
            wasHeld => new ReleaseCompleted(wasHeld, null),
            error => new ReleaseCompleted(null, error));
        return GoTo(LeaseState.Releasing).Using(new ReleasingData(Sender));
    }

    private State<LeaseState, ILeaseData> OnReleased(bool wasHeld, ReleasingData data)
    {
        _log.Info("Lease [{0}] released by owner [{1}]{2}", _leaseName, _store.Owner,
            wasHeld ? "" : " (the store no longer showed our hold)");
        data.ReplyTo.Tell(new LeaseReleased(wasHeld));
        return GoTo(LeaseState.Idle).Using(IdleData.Instance);
    }

    private State<LeaseState, ILeaseData> FailRelease(ReleasingData data, Exception error)
    {
        _log.Warning("Lease [{0}] owner [{1}]: release failed, the record expires after the TTL instead: {2}", _leaseName,
            _store.Owner, error.Message);
        data.ReplyTo.Tell(new Status.Failure(Wrap("release", error)));
        return GoTo(LeaseState.Idle).Using(IdleData.Instance);
    }

    private State<LeaseState, ILeaseData> FailAcquire(AcquiringData data, string step, Exception error)
    {
        _log.Warning("Lease [{0}] owner [{1}]: acquire failed at {2}: {3}", _leaseName, _store.Owner, step, error.Message);
        data.ReplyTo.Tell(new Status.Failure(Wrap(step, error)));
        return GoTo(LeaseState.Idle).Using(IdleData.Instance);
    }

    private State<LeaseState, ILeaseData> RefuseConcurrentAcquire()
    {
        Sender.Tell(new Status.Failure(new LeaseException(
            $"Lease [{_leaseName}] owner [{_store.Owner}]: an acquire is already in progress")));
        return Stay();
    }

    private State<LeaseState, ILeaseData> StashForLater()
    {
        Stash.Stash();
        return Stay();
    }

    private LeaseTimeoutException SelfExpired(GrantedData<TVersion> data) => new(
        $"Lease [{_leaseName}] owner [{_store.Owner}] epoch {data.Held.Epoch}: no heartbeat got through within " +
        $"{_timing.HoldValidity.TotalMilliseconds} ms (TTL {_timing.HeartbeatTimeout.TotalMilliseconds} ms - safety margin " +
        $"{_timing.SafetyMargin.TotalMilliseconds} ms), giving the lease up before another node can take it");

    private Exception Wrap(string step, Exception error) => error switch
    {
        LeaseException => error,
        TimeoutException or OperationCanceledException => new LeaseTimeoutException(
            $"Lease [{_leaseName}] owner [{_store.Owner}]: {step} did not finish within {_timing.OperationTimeout.TotalMilliseconds} ms",
            error),
        _ => new LeaseException($"Lease [{_leaseName}] owner [{_store.Owner}]: {step} failed: {error.Message}", error),
    };

    private void ArmSelfExpiry(long validUntil)
    {
        var delay = TimeSpan.FromMilliseconds(Math.Max(1, ToMilliseconds(validUntil - Stopwatch.GetTimestamp())));
        SetTimer(SelfExpiryTimer, SelfExpiryCheck.Instance, delay, repeat: false);
    }

    /// <summary>
    /// Runs one store operation off the actor thread, bounded by the operation timeout, and pipes exactly one message
    /// back to Self (success or failure; a late completion after the timeout is dropped).
    /// </summary>
    private void Run<T>(Func<CancellationToken, Task<T>> operation, Func<T, object> onSuccess, Func<Exception, object> onFailure)
    {
        var timeout = _timing.OperationTimeout;
        // Not disposed on purpose: an abandoned operation may still hold the token; the source's timer frees it.
        var cancellation = new CancellationTokenSource(timeout);
        Task.Run(() => operation(cancellation.Token), CancellationToken.None)
            .WaitAsync(timeout)
            .ContinueWith(
                task => task.IsCompletedSuccessfully ? onSuccess(task.Result) : onFailure(Flatten(task)),
                TaskScheduler.Default)
            .PipeTo(Self);
    }

    private static Exception Flatten(Task task) => task.Exception switch
    {
        { InnerExceptions.Count: 1 } aggregate => aggregate.InnerExceptions[0],
        { } aggregate => aggregate.Flatten(),
        null => new TimeoutException("store operation was cancelled"),
    };

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static long ToMilliseconds(long ticks) => ticks * 1000 / Stopwatch.Frequency;
}
