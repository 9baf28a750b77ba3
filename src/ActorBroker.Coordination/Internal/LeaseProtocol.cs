using Akka.Event;

namespace ActorBroker.Coordination.Internal;

/// <summary>
/// Sent by <see cref="StoreLease{TVersion}"/> to its lease actor to acquire the lease. Replies: <see cref="LeaseAcquired"/>
/// (now held, or already held), <see cref="LeaseBusy"/> (someone else holds it), or <c>Status.Failure</c> with a
/// <c>LeaseException</c> (store unreachable, timeout, another acquire in progress).
/// </summary>
internal sealed record AcquireLease(Action<Exception>? LeaseLostCallback);

/// <summary>
/// Sent by <see cref="StoreLease{TVersion}"/> to its lease actor to give the lease up. Replies: <see cref="LeaseReleased"/>
/// or <c>Status.Failure</c>. A release that arrives while an acquire is in flight waits for it to finish.
/// </summary>
internal sealed class ReleaseLease
{
    public static readonly ReleaseLease Instance = new();
    private ReleaseLease() { }
}

/// <summary>Reply to <see cref="AcquireLease"/>: this node holds the lease with <paramref name="Epoch"/>.</summary>
internal sealed record LeaseAcquired(long Epoch);

/// <summary>Reply to <see cref="AcquireLease"/>: another owner holds the lease (<paramref name="Holder"/> describes it).</summary>
internal sealed record LeaseBusy(string Holder);

/// <summary>Reply to <see cref="ReleaseLease"/>: <paramref name="WasHeld"/> is false when there was nothing to release.</summary>
internal sealed record LeaseReleased(bool WasHeld);

/// <summary>
/// Test hook, sent by a test (through <see cref="StoreLease{TVersion}"/>) to simulate a frozen holder: while paused, the
/// actor sends no heartbeats but keeps its self-expiry, exactly like a process that stopped scheduling them. Reply: <c>Done</c>.
/// </summary>
internal sealed record SetHeartbeatPaused(bool Paused);

// Messages the lease actor sends itself: piped store results and timers. Each result says which operation it answers
// (and heartbeats which hold), so a late answer arriving in another state is recognised and dropped.

internal sealed record ReadCompleted<TVersion>(LeaseRecord<TVersion>? Record, Exception? Error) : IDeadLetterSuppression;

internal sealed record AcquireCompleted<TVersion>(CasResult<TVersion>? Result, Exception? Error, long IssuedAt) : IDeadLetterSuppression;

internal sealed record HeartbeatCompleted<TVersion>(long Epoch, CasResult<TVersion>? Result, Exception? Error, long IssuedAt)
    : IDeadLetterSuppression;

internal sealed record ReleaseCompleted(bool? WasHeld, Exception? Error) : IDeadLetterSuppression;

internal sealed class HeartbeatTick : IDeadLetterSuppression
{
    public static readonly HeartbeatTick Instance = new();
    private HeartbeatTick() { }
}

internal sealed class SelfExpiryCheck : IDeadLetterSuppression
{
    public static readonly SelfExpiryCheck Instance = new();
    private SelfExpiryCheck() { }
}
