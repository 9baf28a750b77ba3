using ActorBroker.Coordination;
using Akka.Actor;
using Akka.TestKit;

namespace ActorBroker.Tests.Coordination;

/// <summary>A store call as the probe sees it; the test answers with <c>probe.Reply(result)</c> or a <c>Status.Failure</c>.</summary>
internal sealed record StoreCall(string Operation, LeaseRecord<long>? Argument);

/// <summary>
/// A lease store whose every call becomes an Ask to a <see cref="TestProbe"/>, so a spec scripts each round trip of the
/// lease actor by hand (which record a read returns, whether a write conflicts, which call fails).
/// </summary>
internal sealed class ProbeLeaseStore(TestProbe probe, string owner = "me@127.0.0.1:1", string incarnation = "inc-1") : ILeaseStore<long>
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    public string Owner { get; } = owner;

    public string Incarnation { get; } = incarnation;

    public Task<LeaseRecord<long>> ReadAsync(CancellationToken cancellationToken) =>
        probe.Ref.Ask<LeaseRecord<long>>(new StoreCall("read", null), AskTimeout, cancellationToken);

    public Task<CasResult<long>> TryAcquireAsync(LeaseRecord<long> seen, CancellationToken cancellationToken) =>
        probe.Ref.Ask<CasResult<long>>(new StoreCall("acquire", seen), AskTimeout, cancellationToken);

    public Task<CasResult<long>> HeartbeatAsync(LeaseRecord<long> held, CancellationToken cancellationToken) =>
        probe.Ref.Ask<CasResult<long>>(new StoreCall("heartbeat", held), AskTimeout, cancellationToken);

    public Task<bool> ReleaseAsync(LeaseRecord<long> held, CancellationToken cancellationToken) =>
        probe.Ref.Ask<bool>(new StoreCall("release", held), AskTimeout, cancellationToken);

    public LeaseRecord<long> Mine(long epoch, long version) => new(Owner, Incarnation, epoch, version, false);

    public static LeaseRecord<long> Free(long epoch = 0, long version = 0) => new(null, null, epoch, version, false);

    public static LeaseRecord<long> Other(long epoch, long version, bool expired = false) =>
        new("other@127.0.0.1:2", "inc-other", epoch, version, expired);
}
