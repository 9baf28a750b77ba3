using Akka.Actor;

namespace ActorBroker.Coordination;

/// <summary>
/// The epoch (fencing token) of the newest lease this actor system acquired. Leases advance it on
/// every acquisition; journals read it and stamp it on each write batch, so a store can refuse or
/// ignore writes from a stale master after a newer one took over. It only ever grows.
/// </summary>
public sealed class FencingTokens : IExtension
{
    private long _current;

    /// <summary>The highest epoch acquired so far; 0 before any lease was held.</summary>
    public long Current => Volatile.Read(ref _current);

    /// <summary>Raised after <see cref="Current"/> grew, with the new value.</summary>
    public event Action<long>? Advanced;

    /// <summary>Records an acquisition's epoch. Lower or equal values are ignored (epochs never go back).</summary>
    public void Advance(long epoch)
    {
        long seen;
        do
        {
            seen = Volatile.Read(ref _current);
            if (epoch <= seen) return;
        } while (Interlocked.CompareExchange(ref _current, epoch, seen) != seen);

        Advanced?.Invoke(epoch);
    }

    public static FencingTokens Get(ActorSystem system) => system.WithExtension<FencingTokens, FencingTokensProvider>();
}

/// <summary>Akka extension id for <see cref="FencingTokens"/>.</summary>
public sealed class FencingTokensProvider : ExtensionIdProvider<FencingTokens>
{
    public override FencingTokens CreateExtension(ExtendedActorSystem system) => new();
}
