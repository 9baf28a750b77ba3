using System.Net;
using DotNext.Buffers;
using DotNext.Net;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// DotNext membership storage for a static member list: kept in memory and rebuilt from HOCON on every start, so
/// all nodes agree on the voters without a membership-change protocol. (DotNext's own in-memory storage for
/// endpoints is internal; this is the same few lines.)
/// </summary>
internal sealed class StaticMembership : InMemoryClusterConfigurationStorage<EndPoint>
{
    public StaticMembership(IEnumerable<IPEndPoint> members)
    {
        var initial = CreateInitialConfigurationBuilder();
        foreach (var member in members) initial.Add(member);
        initial.Build();
    }

    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer) => writer.WriteEndPoint(address);

    protected override EndPoint Decode(ref SequenceReader reader) => reader.ReadEndPoint();
}
