using System.Net;
using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>
/// Follower -> leader write forwarding over real loopback TCP, with the leader's submit function scripted:
/// outcomes come back in order, "not leader" and failures come back as statuses, and the client reconnects.
/// </summary>
public sealed class ForwardingSpec
{
    private static readonly List<JournalOperation> Batch =
    [
        new WriteEvents(Guid.NewGuid(), 0, "a", [new StoredEvent(1, new byte[] { 1 })]),
        new DeleteEventsTo(Guid.NewGuid(), 0, "b", 3),
    ];

    private static void NoReports(int member, long index) { }

    [Fact(DisplayName = "Forwarding returns the leader's outcome per operation, in order, over one reused connection")]
    public async Task ReturnsOutcomes()
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        var calls = 0;
        await using var server = new ForwardingServer(endpoint, (ops, _) =>
        {
            Interlocked.Increment(ref calls);
            return Task.FromResult(ops.Select((op, i) => new OperationOutcome(i == 0 ? OutcomeCode.Applied : OutcomeCode.SequenceConflict, 42, op.Id.ToString())).ToArray());
        }, NoReports);
        server.Start();
        using var client = new ForwardingClient();

        for (var round = 0; round < 3; round++)
        {
            var (status, outcomes, _) = await client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None);
            Assert.Equal(ForwardingProtocol.StatusOk, status);
            Assert.Equal([OutcomeCode.Applied, OutcomeCode.SequenceConflict], outcomes.Select(o => o.Code));
            Assert.Equal(Batch.Select(b => b.Id.ToString()), outcomes.Select(o => o.Detail));
            Assert.All(outcomes, o => Assert.Equal(42, o.LogIndex));
        }
        Assert.Equal(3, calls);
    }

    [Fact(DisplayName = "Forwarding reports 'not leader' and failures as statuses with the leader's message")]
    public async Task ReportsNotLeaderAndFailure()
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        var answer = 0;
        await using var server = new ForwardingServer(endpoint, (_, _) => Interlocked.Increment(ref answer) == 1
            ? throw new NotLeaderNowException("node X is not the leader")
            : Task.FromException<OperationOutcome[]>(new InvalidOperationException("disk full")), NoReports);
        server.Start();
        using var client = new ForwardingClient();

        var notLeader = await client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None);
        Assert.Equal(ForwardingProtocol.StatusNotLeader, notLeader.Status);
        Assert.Contains("not the leader", notLeader.Error);

        var failed = await client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None);
        Assert.Equal(ForwardingProtocol.StatusFailed, failed.Status);
        Assert.Contains("disk full", failed.Error);
    }

    [Fact(DisplayName = "Forwarding client fails fast when the leader's endpoint is closed and works again once it listens")]
    public async Task ReconnectsAfterFailure()
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        using var client = new ForwardingClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None));

        await using var server = new ForwardingServer(endpoint, (ops, _) =>
            Task.FromResult(ops.Select(_ => new OperationOutcome(OutcomeCode.Applied, 1, "")).ToArray()), NoReports);
        server.Start();
        var (status, outcomes, _) = await client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None);
        Assert.Equal(ForwardingProtocol.StatusOk, status);
        Assert.Equal(2, outcomes.Length);
    }

    [Fact(DisplayName = "Applied-index reports reach the leader's callback unanswered, beside forwarded batches on the same listener")]
    public async Task DeliversAppliedReports()
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, FreePort.Next());
        var reports = System.Threading.Channels.Channel.CreateUnbounded<(int Member, long Index)>();
        await using var server = new ForwardingServer(endpoint, (ops, _) =>
            Task.FromResult(ops.Select(_ => new OperationOutcome(OutcomeCode.Applied, 1, "")).ToArray()),
            (member, index) => reports.Writer.TryWrite((member, index)));
        server.Start();

        using var reporter = new ForwardingClient();
        await reporter.ReportAppliedAsync(endpoint, 2, 41, CancellationToken.None);
        await reporter.ReportAppliedAsync(endpoint, 2, 42, CancellationToken.None); // same connection: nothing to read in between
        Assert.Equal((2, 41L), await reports.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((2, 42L), await reports.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        using var client = new ForwardingClient();
        var (status, _, _) = await client.SendAsync(endpoint, OperationCodec.Encode(Batch), CancellationToken.None);
        Assert.Equal(ForwardingProtocol.StatusOk, status);
    }
}
