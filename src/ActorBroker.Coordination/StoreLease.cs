using Akka;
using ActorBroker.Coordination.Internal;
using Akka.Actor;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>
/// An <see cref="Lease"/> backed by an <see cref="ILeaseStore{TVersion}"/> and driven by the one lease state machine.
/// Each backend is a thin subclass with the <c>(LeaseSettings, ExtendedActorSystem)</c> constructor that
/// <c>LeaseProvider</c> calls: it builds its settings and store and passes them here.
/// </summary>
/// <remarks>
/// <see cref="CheckLease"/> reads a monotonic deadline, not the actor, so it turns false at the self-expiry instant even
/// when the actor is starved. Every acquisition's epoch is published through <see cref="FencingTokens"/>.
/// </remarks>
public abstract class StoreLease<TVersion> : EpochLease
{
    private static int _instances;
    private readonly LeaseHold _hold = new();
    private readonly IActorRef _actor;

    private protected StoreLease(LeaseSettings settings, ExtendedActorSystem system, ILeaseStore<TVersion> store, LeaseTiming timing)
        : base(settings)
    {
        Timing = timing;
        Incarnation = store.Incarnation;
        var name = $"lease-{Sanitize(settings.LeaseName)}-{Interlocked.Increment(ref _instances)}";
        _actor = system.SystemActorOf(
            LeaseActor<TVersion>.Props(store, timing, settings.LeaseName, _hold, FencingTokens.Get(system), LeaseHolderObituaries.Get(system)), name);
    }

    public override LeaseTiming Timing { get; }

    public override string Incarnation { get; }

    public override long? HeldEpoch => _hold.Epoch;

    internal override long LastValidUntil => _hold.LastValidUntil;

    // A full acquire is a read plus a write, each bounded by the operation timeout.
    private TimeSpan AskTimeout => Timing.OperationTimeout * 2 + TimeSpan.FromSeconds(1);

    public override Task<bool> Acquire() => Acquire(null!);

    public override async Task<bool> Acquire(Action<Exception> leaseLostCallback)
    {
        var reply = await AskActor(new AcquireLease(leaseLostCallback), "acquire");
        return reply switch
        {
            LeaseAcquired => true,
            LeaseBusy => false,
            _ => throw new LeaseException($"Lease [{Settings.LeaseName}]: unexpected reply to acquire [{reply}]"),
        };
    }

    public override async Task<bool> Release()
    {
        var reply = await AskActor(ReleaseLease.Instance, "release");
        return reply is LeaseReleased { WasHeld: true };
    }

    public override bool CheckLease() => _hold.IsValid;

    internal override Task SetHeartbeatPausedAsync(bool paused) => _actor.Ask<Done>(new SetHeartbeatPaused(paused), AskTimeout);

    private async Task<object> AskActor(object message, string operation)
    {
        try
        {
            return await _actor.Ask<object>(message, AskTimeout);
        }
        catch (AskTimeoutException e)
        {
            throw new LeaseTimeoutException(
                $"Lease [{Settings.LeaseName}] owner [{Settings.OwnerName}]: {operation} got no answer within {AskTimeout.TotalMilliseconds} ms", e);
        }
    }

    private static string Sanitize(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').Take(100).ToArray());
}
