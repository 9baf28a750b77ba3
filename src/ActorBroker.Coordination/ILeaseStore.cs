namespace ActorBroker.Coordination;

/// <summary>
/// The storage side of a lease: one record per lease name, changed only by conditional writes. The lease state machine
/// (<see cref="Internal.LeaseActor{TVersion}"/>) is written once against this interface; each backend is a store.
/// </summary>
/// <remarks>
/// <para>Shape every store keeps (the actor relies on nothing else):</para>
/// <list type="bullet">
/// <item><b>Read</b> returns the current <see cref="LeaseRecord{TVersion}"/>: who holds it (owner and incarnation, or
/// nobody), its epoch, an opaque version for compare-and-set, and whether the hold has <b>expired</b>. The store judges
/// expiry with the clock it trusts: the database clock (SQL), the record's heart-beat time against the reader's clock
/// plus a skew allowance (file), the server's session expiry (ZooKeeper: an expired session's ephemeral node is gone,
/// so a record that exists is never expired).</item>
/// <item><b>TryAcquire(seen)</b> makes this store's owner the holder only if the record is still <paramref name="seen"/>
/// (same version) and it is free, expired, or already held by this very incarnation. <c>seen.IsExpired</c> set by the
/// caller also counts as expired: the lease actor sets it for a holder whose process is proven gone
/// (<see cref="LeaseHolderObituaries"/>); the version check keeps that safe against a record changed since. On success the new record carries
/// a <b>new epoch strictly greater than every epoch ever issued for this lease name</b>, durable in the store (file and
/// SQL: previous epoch + 1, kept across releases; ZooKeeper: the czxid of the new ephemeral node). On conflict it returns
/// the record it found instead.</item>
/// <item><b>Heartbeat(held)</b> extends the hold iff the store still shows the hold <c>held</c> (same owner, incarnation
/// and epoch — intervening heartbeats of the same hold do not matter). Conflict carries the record found (for example a
/// newer holder). ZooKeeper: "the session that owns the ephemeral node is still connected and valid".</item>
/// <item><b>Release(held)</b> ends the hold iff it is still <c>held</c>; the epoch stays in the store so the next
/// acquisition continues from it (ZooKeeper: delete the ephemeral node). Returns false if the hold was not there.</item>
/// </list>
/// <para>Every method may throw (store unreachable, timeout): the actor treats an exception as "outcome unknown" and
/// relies on its local self-expiry, never on a later answer. Methods must honour the cancellation token where the
/// backend can; the actor also stops waiting after the operation timeout. A store instance belongs to one lease
/// instance (one owner and incarnation) and may keep private state; calls come one at a time, except that an operation
/// the actor abandoned after its timeout may still be running when the next one starts.</para>
/// </remarks>
/// <typeparam name="TVersion">The compare-and-set token of the backend (a revision counter, a znode version...).</typeparam>
internal interface ILeaseStore<TVersion>
{
    /// <summary>Owner name written into records by this store (the Akka lease owner, e.g. <c>system@host:port</c>).</summary>
    string Owner { get; }

    /// <summary>
    /// Distinguishes two lives of the same owner name (a node restarted on the same host and port): a new lease instance
    /// gets a new incarnation and therefore has to wait for the old hold to expire like any other acquirer.
    /// </summary>
    string Incarnation { get; }

    Task<LeaseRecord<TVersion>> ReadAsync(CancellationToken cancellationToken);

    Task<CasResult<TVersion>> TryAcquireAsync(LeaseRecord<TVersion> seen, CancellationToken cancellationToken);

    Task<CasResult<TVersion>> HeartbeatAsync(LeaseRecord<TVersion> held, CancellationToken cancellationToken);

    Task<bool> ReleaseAsync(LeaseRecord<TVersion> held, CancellationToken cancellationToken);
}

/// <summary>A lease record as a store last saw it. <see cref="Owner"/> is null when nobody holds the lease.</summary>
/// <param name="Owner">Holder's owner name, or null when free.</param>
/// <param name="Incarnation">Holder's incarnation, or null when free.</param>
/// <param name="Epoch">Epoch of the current (or, when free, the last) acquisition; 0 if never acquired.</param>
/// <param name="Version">Compare-and-set token of this exact record state.</param>
/// <param name="IsExpired">True when the holder stopped heart-beating for longer than the TTL, as the store judges it.</param>
internal sealed record LeaseRecord<TVersion>(string? Owner, string? Incarnation, long Epoch, TVersion Version, bool IsExpired)
{
    public bool IsFree => Owner is null;

    public bool IsHeldBy(string owner, string incarnation) => Owner == owner && Incarnation == incarnation;

    /// <summary>True when <paramref name="other"/> describes the same hold (holder and epoch), whatever its version.</summary>
    public bool IsSameHold(LeaseRecord<TVersion> other) =>
        Owner == other.Owner && Incarnation == other.Incarnation && Epoch == other.Epoch;

    public override string ToString() =>
        IsFree ? $"free (last epoch {Epoch})" : $"held by [{Owner}] incarnation [{Incarnation}] epoch {Epoch}{(IsExpired ? ", expired" : "")}";
}

/// <summary>Outcome of a conditional write: the record written (success) or the record found instead (conflict).</summary>
internal sealed record CasResult<TVersion>(bool Succeeded, LeaseRecord<TVersion> Record)
{
    public static CasResult<TVersion> Success(LeaseRecord<TVersion> written) => new(true, written);

    public static CasResult<TVersion> Conflict(LeaseRecord<TVersion> current) => new(false, current);
}
