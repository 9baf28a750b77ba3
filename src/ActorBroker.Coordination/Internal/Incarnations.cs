namespace ActorBroker.Coordination.Internal;

/// <summary>Incarnation ids: unique per lease instance, so a restarted node is never mistaken for its previous life.</summary>
internal static class Incarnations
{
    public static string New() => Guid.NewGuid().ToString("N")[..16];
}
