using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>
/// What every ActorBroker lease offers beyond <see cref="Lease"/>, whatever its store: the epoch (fencing token) of
/// the current hold, its timing, and (internal) the test hook that freezes heart-beating.
/// </summary>
public abstract class EpochLease : Lease
{
    private protected EpochLease(LeaseSettings settings) : base(settings)
    {
    }

    /// <summary>Epoch (fencing token) of the current hold, or null when the lease is not held.</summary>
    public abstract long? HeldEpoch { get; }

    /// <summary>Validated timing of this lease.</summary>
    public abstract LeaseTiming Timing { get; }

    /// <summary>This lease instance's incarnation id (written into the record next to the owner name).</summary>
    public abstract string Incarnation { get; }

    /// <summary>
    /// Test hook: the <see cref="System.Diagnostics.Stopwatch"/> timestamp the newest hold was trusted until (kept after
    /// it ended): the start of its last heartbeat that got through + TTL - safety margin; 0 if never held.
    /// </summary>
    internal abstract long LastValidUntil { get; }

    /// <summary>
    /// Test hook: stop (or resume) heart-beating while keeping self-expiry, as a frozen holder would. A store whose
    /// liveness is not the heartbeat (a ZooKeeper session) must also stop that liveness here.
    /// </summary>
    internal abstract Task SetHeartbeatPausedAsync(bool paused);
}
