using System.Diagnostics;

namespace ActorBroker.Coordination.Internal;

/// <summary>
/// What the lease actor and the <see cref="StoreLease{TVersion}"/> facade share: whether the lease is held, and until
/// when (a <see cref="Stopwatch"/> timestamp). <see cref="IsValid"/> compares against the monotonic clock on every call,
/// so <c>CheckLease()</c> turns false exactly at the self-expiry instant even when the actor is starved or frozen.
/// </summary>
internal sealed class LeaseHold
{
    private long _validUntil; // Stopwatch timestamp; 0 = not held
    private long _lastValidUntil; // the newest _validUntil ever granted; kept when the hold ends
    private long _epoch;

    public bool IsValid => Stopwatch.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>Stopwatch timestamp the hold is trusted until; 0 when not held.</summary>
    public long ValidUntil => Volatile.Read(ref _validUntil);

    /// <summary>
    /// The newest self-expiry instant ever set, kept after the hold ends: minus (TTL - safety margin) it is the start of
    /// the last heartbeat that got through, which is what another node's takeover is timed from.
    /// </summary>
    public long LastValidUntil => Volatile.Read(ref _lastValidUntil);

    /// <summary>Epoch of the current hold, or null when not held (or no longer valid).</summary>
    public long? Epoch
    {
        get
        {
            // Validity read on both sides of the epoch: if it changed (heartbeat, or a release and a new grant slipped
            // in between), read again, so the epoch returned always belongs to the hold that was valid.
            while (true)
            {
                var validUntil = Volatile.Read(ref _validUntil);
                var epoch = Volatile.Read(ref _epoch);
                if (Volatile.Read(ref _validUntil) != validUntil) continue;
                return Stopwatch.GetTimestamp() < validUntil ? epoch : null;
            }
        }
    }

    /// <summary>Called by the lease actor only (single writer), after the record was written.</summary>
    public void Grant(long epoch, long validUntil)
    {
        Volatile.Write(ref _epoch, epoch);
        Volatile.Write(ref _validUntil, validUntil);
        RaiseLastValidUntil(validUntil);
    }

    /// <summary>Moves the validity forward (never backward: a late answer to an older heartbeat must not shorten it).</summary>
    public void Extend(long validUntil)
    {
        long seen;
        do
        {
            seen = Volatile.Read(ref _validUntil);
            if (seen == 0 || validUntil <= seen) return;
        } while (Interlocked.CompareExchange(ref _validUntil, validUntil, seen) != seen);
        RaiseLastValidUntil(validUntil);
    }

    private void RaiseLastValidUntil(long validUntil)
    {
        long seen;
        do
        {
            seen = Volatile.Read(ref _lastValidUntil);
            if (validUntil <= seen) return;
        } while (Interlocked.CompareExchange(ref _lastValidUntil, validUntil, seen) != seen);
    }

    public void Clear() => Volatile.Write(ref _validUntil, 0);
}
