using ActorBroker.Coordination;
using Akka.Actor;
using Akka.Coordination;

namespace ActorBroker.Persistence.Raft;

/// <summary>
/// An Akka.Coordination lease held by the node that is the current Raft leader. <see cref="Acquire()"/> succeeds only
/// while this node leads (it never waits for or forces an election); the epoch is the Raft term, published through
/// <see cref="FencingTokens"/>. The lost callback runs when this node stops leading (DotNext cancels its leadership
/// token on step-down; with Raft's election timeout a new leader cannot be elected before the old one's term ended
/// in its own view, modulo clock drift). Owner name is informative only: leadership decides.
/// Config path: <c>actorbroker.persistence.raft.lease</c>.
/// </summary>
public sealed class RaftLeaderLease : Lease
{
    private readonly ActorSystem _system;
    private readonly object _gate = new();
    private CancellationToken? _heldLeadership;
    private CancellationTokenRegistration _lostRegistration;

    public RaftLeaderLease(LeaseSettings settings, ExtendedActorSystem system) : base(settings)
    {
        _system = system;
    }

    public override Task<bool> Acquire() => Acquire(null!);

    public override async Task<bool> Acquire(Action<Exception?> leaseLostCallback)
    {
        var replica = await RaftReplication.Get(_system).Replica.ConfigureAwait(false);
        var leadership = replica.LeadershipToken;
        var term = replica.Term;
        if (leadership.IsCancellationRequested) return false; // read the term while still leading, so it is our term

        lock (_gate)
        {
            _lostRegistration.Dispose();
            _heldLeadership = leadership;
            _lostRegistration = leadership.Register(() =>
            {
                lock (_gate) _heldLeadership = null;
                leaseLostCallback?.Invoke(new LeaseException(
                    $"Raft leadership of [{replica.Settings.Self}] in term {term} ended; lease [{Settings.LeaseName}] lost"));
            });
        }
        FencingTokens.Get(_system).Advance(term);
        return true;
    }

    public override Task<bool> Release()
    {
        lock (_gate)
        {
            _lostRegistration.Dispose();
            _lostRegistration = default;
            _heldLeadership = null;
        }
        return Task.FromResult(true);
    }

    public override bool CheckLease()
    {
        lock (_gate) return _heldLeadership is { IsCancellationRequested: false };
    }
}
