using System.Collections.Concurrent;
using Akka.Actor;

namespace ActorBroker.Coordination;

/// <summary>
/// Lease owners (Akka's <c>system@host:port</c> owner names) whose process this node has proven gone, so their lease
/// record may be taken over at once instead of after its TTL: a dead process can neither heart-beat nor write, and
/// waiting out its TTL only delays failover. Only proof may go in (the node's fast-down records an owner whose remoting
/// link dropped and whose port then refused connections: nothing listens there any more); an unreachable or silent
/// holder may be alive and must be waited out. The takeover is still a conditional write on the record version the
/// lease read, and it takes a higher epoch, so journals fence anything the old holder might still have had in flight.
/// </summary>
public sealed class LeaseHolderObituaries : IExtension
{
    private readonly ConcurrentDictionary<string, DateTime> _dead = new(StringComparer.Ordinal);

    /// <summary>Records that the process that owned leases as <paramref name="owner"/> is gone.</summary>
    public void Record(string owner) => _dead[owner] = DateTime.UtcNow;

    /// <summary>Withdraws the record: a new process answers as <paramref name="owner"/> again (it rejoined).</summary>
    public void Forget(string owner) => _dead.TryRemove(owner, out _);

    /// <summary>True when <paramref name="owner"/> was recorded dead and has not come back since.</summary>
    public bool IsDead(string? owner) => owner is not null && _dead.ContainsKey(owner);

    public static LeaseHolderObituaries Get(ActorSystem system) =>
        system.WithExtension<LeaseHolderObituaries, LeaseHolderObituariesProvider>();
}

/// <summary>Akka extension id for <see cref="LeaseHolderObituaries"/>.</summary>
public sealed class LeaseHolderObituariesProvider : ExtensionIdProvider<LeaseHolderObituaries>
{
    public override LeaseHolderObituaries CreateExtension(ExtendedActorSystem system) => new();
}
