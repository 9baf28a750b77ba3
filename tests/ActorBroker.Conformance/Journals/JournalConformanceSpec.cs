using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Journals;

/// <summary>
/// The journal + snapshot store contract every backend keeps (the cases of Akka's persistence TCK, plus the
/// "no forked history" rule). A subclass supplies the plugin config with a fresh namespace per test (directory,
/// database file, database) and may add backend-specific cases (crash tail, epoch fencing).
/// Each test starts with events 1..5 of <see cref="Pid"/> (4 and 5 as one AtomicWrite) and snapshots at 11..15.
/// </summary>
public abstract class JournalConformanceSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config SuiteConfig = ConfigurationFactory.ParseString($$"""
        akka.test.single-expect-default = 15s
        akka.persistence.publish-plugin-commands = on
        akka.actor.serializers.refusing = "{{typeof(RefusingSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings { "{{typeof(NotSerializableEvent).AssemblyQualifiedName}}" = refusing }
        """);

    private readonly TestProbe _writer;
    private readonly TestProbe _receiver;

    protected JournalConformanceSpec(Config pluginConfig, string systemName, ITestOutputHelper output)
        : base(pluginConfig.WithFallback(SuiteConfig), systemName, output)
    {
        _writer = CreateTestProbe();
        _receiver = CreateTestProbe();
        WriteInitialEvents();
        Snapshots = WriteInitialSnapshots();
    }

    protected string Pid { get; } = "pid-" + Guid.NewGuid().ToString("N")[..8];
    protected string WriterGuid { get; } = Guid.NewGuid().ToString();
    protected int ActorInstanceId => 1;
    protected IActorRef Journal => Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
    protected IActorRef SnapshotStore => Akka.Persistence.Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);
    protected IReadOnlyList<SnapshotMetadata> Snapshots { get; }

    /// <summary>
    /// Whether <see cref="Persistent.Manifest"/> (the event-adapter manifest) and <see cref="Persistent.WriterGuid"/>
    /// survive a round trip. Akka.Persistence.Sql 1.5.73 replays its own writer uuid and only the serializer manifest
    /// (observed), so it opts out; the broker uses neither event adapters nor writer ids.
    /// </summary>
    protected virtual bool KeepsEventAdapterManifestAndWriterGuid => true;

    protected Persistent Event(long seq, object? payload = null, string? pid = null) =>
        new(payload ?? "a-" + seq, seq, pid ?? Pid, "", false, ActorRefs.NoSender, WriterGuid);

    protected static AtomicWrite Atomic(params Persistent[] events) =>
        new(events.ToImmutableList<IPersistentRepresentation>());

    /// <summary>Writes and asserts that every AtomicWrite succeeded.</summary>
    protected void WriteSuccessfully(params AtomicWrite[] writes)
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages(writes, probe.Ref, ActorInstanceId));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        foreach (var e in writes.SelectMany(w => (IImmutableList<IPersistentRepresentation>)w.Payload))
            probe.ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == e.SequenceNr);
    }

    /// <summary>Replays and returns the replayed events and the reported highest sequence number.</summary>
    protected (List<IPersistentRepresentation> Events, long Highest) Replay(long from = 1, long to = long.MaxValue, long max = long.MaxValue, string? pid = null)
    {
        Journal.Tell(new ReplayMessages(from, to, max, pid ?? Pid, _receiver.Ref));
        var events = new List<IPersistentRepresentation>();
        while (true)
        {
            var message = _receiver.ExpectMsg<object>();
            switch (message)
            {
                case ReplayedMessage replayed: events.Add(replayed.Persistent); break;
                case RecoverySuccess done: return (events, done.HighestSequenceNr);
                case ReplayMessagesFailure failure: throw new Xunit.Sdk.XunitException($"replay failed: {failure.Cause}");
                default: throw new Xunit.Sdk.XunitException($"unexpected reply {message}");
            }
        }
    }

    protected static void AssertReplayed(IEnumerable<IPersistentRepresentation> events, params long[] expected)
    {
        var list = events.ToList();
        Assert.Equal(expected, list.Select(e => e.SequenceNr));
        Assert.All(list, e => Assert.Equal("a-" + e.SequenceNr, e.Payload.ToString()));
    }

    private void WriteInitialEvents() =>
        WriteSuccessfully(Atomic(Event(1)), Atomic(Event(2)), Atomic(Event(3)), Atomic(Event(4), Event(5)));

    private List<SnapshotMetadata> WriteInitialSnapshots()
    {
        var saved = new List<SnapshotMetadata>();
        for (var i = 1; i <= 5; i++)
        {
            SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(Pid, i + 10, DateTime.UtcNow), $"s-{i}"), _writer.Ref);
            saved.Add(_writer.ExpectMsg<SaveSnapshotSuccess>().Metadata);
        }
        return saved;
    }

    // ---------------------------------------------------------------- journal: replay

    [Fact(DisplayName = "Journal replays all events in order and reports the highest sequence number")]
    public void ReplaysAll() { var (e, h) = Replay(); AssertReplayed(e, 1, 2, 3, 4, 5); Assert.Equal(5, h); }

    [Fact(DisplayName = "Journal replays from a lower sequence number bound")]
    public void ReplaysFromLowerBound() { var (e, h) = Replay(from: 3); AssertReplayed(e, 3, 4, 5); Assert.Equal(5, h); }

    [Fact(DisplayName = "Journal replays up to an upper sequence number bound")]
    public void ReplaysToUpperBound() { var (e, h) = Replay(to: 3); AssertReplayed(e, 1, 2, 3); Assert.Equal(5, h); }

    [Fact(DisplayName = "Journal replays no more events than the count limit")]
    public void ReplaysCountLimit() { var (e, _) = Replay(max: 3); AssertReplayed(e, 1, 2, 3); }

    [Fact(DisplayName = "Journal replays between a lower and an upper bound")]
    public void ReplaysBetweenBounds() { var (e, _) = Replay(from: 2, to: 3); AssertReplayed(e, 2, 3); }

    [Fact(DisplayName = "Journal replays between bounds and stops at the count limit")]
    public void ReplaysBoundsAndCount() { var (e, _) = Replay(from: 2, to: 5, max: 2); AssertReplayed(e, 2, 3); }

    [Fact(DisplayName = "Journal replays a single event when the lower bound equals the upper bound")]
    public void ReplaysSingleForEqualBounds() { var (e, _) = Replay(from: 2, to: 2); AssertReplayed(e, 2); }

    [Fact(DisplayName = "Journal replays a single event when the count limit is one")]
    public void ReplaysSingleForCountOne() { var (e, _) = Replay(from: 2, to: 4, max: 1); AssertReplayed(e, 2); }

    [Fact(DisplayName = "Journal replays nothing when the count limit is zero but still reports the highest sequence number")]
    public void ReplaysNothingForCountZero() { var (e, h) = Replay(from: 2, to: 4, max: 0); Assert.Empty(e); Assert.Equal(5, h); }

    [Fact(DisplayName = "Journal replays nothing when the lower bound is above the upper bound")]
    public void ReplaysNothingForInvertedBounds() { var (e, h) = Replay(from: 3, to: 2); Assert.Empty(e); Assert.Equal(5, h); }

    [Fact(DisplayName = "Journal replays nothing and reports highest sequence number 0 for an unknown persistence id")]
    public void UnknownPersistenceId() { var (e, h) = Replay(pid: "never-written"); Assert.Empty(e); Assert.Equal(0, h); }

    // ---------------------------------------------------------------- journal: deletes

    [Fact(DisplayName = "Journal does not replay events deleted by DeleteMessagesTo")]
    public void DeletedEventsAreNotReplayed()
    {
        Journal.Tell(new DeleteMessagesTo(Pid, 3, _writer.Ref));
        _writer.ExpectMsg<DeleteMessagesSuccess>(m => m.ToSequenceNr == 3);
        var (e, h) = Replay();
        AssertReplayed(e, 4, 5);
        Assert.Equal(5, h);
    }

    [Fact(DisplayName = "Journal keeps the highest sequence number after deleting every event")]
    public void HighestSurvivesCleanup()
    {
        Journal.Tell(new DeleteMessagesTo(Pid, long.MaxValue, _writer.Ref));
        _writer.ExpectMsg<DeleteMessagesSuccess>(m => m.ToSequenceNr == long.MaxValue);
        var (e, h) = Replay();
        Assert.Empty(e);
        Assert.Equal(5, h);
        WriteSuccessfully(Atomic(Event(6)));
        AssertReplayed(Replay().Events, 6);
    }

    // ---------------------------------------------------------------- journal: atomicity, serialization, rejection

    [Fact(DisplayName = "Journal stores a multi-event AtomicWrite and replays all of it")]
    public void AtomicWriteOfSeveralEvents()
    {
        WriteSuccessfully(Atomic(Event(6), Event(7), Event(8)));
        AssertReplayed(Replay(from: 6).Events, 6, 7, 8);
    }

    [Fact(DisplayName = "Journal rejects a non-serializable event while the other writes of the call succeed")]
    public void RejectsNonSerializableEvent()
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages(
            [Atomic(Event(6)), Atomic(Event(7, new NotSerializableEvent("test"))), Atomic(Event(8))], probe.Ref, ActorInstanceId));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        probe.ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 6);
        probe.ExpectMsg<WriteMessageRejected>(m => m.Persistent.SequenceNr == 7 && m.Persistent.Payload is NotSerializableEvent);
        probe.ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 8);
        AssertReplayed(Replay(from: 6).Events, 6, 8);
    }

    [Fact(DisplayName = "Journal stores none of an AtomicWrite when one of its events cannot be serialized")]
    public void AtomicWriteIsAllOrNothing()
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages([Atomic(Event(6), Event(7, new NotSerializableEvent("test")))], probe.Ref, ActorInstanceId));
        probe.ExpectMsg<WriteMessagesSuccessful>();
        probe.ExpectMsg<WriteMessageRejected>(m => m.Persistent.SequenceNr == 6);
        probe.ExpectMsg<WriteMessageRejected>(m => m.Persistent.SequenceNr == 7);
        // The highest number is asked from 1: a journal may answer only about numbers at or above the "from" hint.
        var (e, h) = Replay();
        AssertReplayed(e, 1, 2, 3, 4, 5);
        Assert.Equal(5, h);
    }

    [Fact(DisplayName = "Journal round-trips payload, adapter manifest and writer id through the serializer")]
    public void RoundTripsThroughSerializer()
    {
        var owner = CreateTestProbe().Ref;
        var payload = new RoundTripEvent("hello \u00e9\u00e8", 42, owner);
        var persistent = new Persistent(payload, 6, Pid, "adapter-v2", false, ActorRefs.NoSender, WriterGuid);
        WriteSuccessfully(new AtomicWrite(persistent));
        var replayed = Assert.Single(Replay(from: 6).Events);
        Assert.Equal(payload, replayed.Payload);
        if (KeepsEventAdapterManifestAndWriterGuid)
        {
            Assert.Equal("adapter-v2", replayed.Manifest);
            Assert.Equal(WriterGuid, replayed.WriterGuid);
        }
        Assert.Equal(Pid, replayed.PersistenceId);
        Assert.Equal(6, replayed.SequenceNr);
    }

    [Fact(DisplayName = "Journal reports the highest sequence number including a write still in flight")]
    public void HighestWaitsForWritesInFlight()
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages([Atomic(Event(6), Event(7))], probe.Ref, ActorInstanceId));
        var (_, h) = Replay(max: 0); // sent right behind the write
        Assert.Equal(7, h);
        probe.ExpectMsg<WriteMessagesSuccessful>();
    }

    [Fact(DisplayName = "Journal refuses to write an existing sequence number again, so the first history stays")]
    public void DoesNotForkHistory()
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages([Atomic(Event(3, "forked-3"))], probe.Ref, ActorInstanceId));
        probe.ExpectMsg<WriteMessagesFailed>();
        probe.ExpectMsg<WriteMessageFailure>(m => m.Persistent.SequenceNr == 3);
        AssertReplayed(Replay().Events, 1, 2, 3, 4, 5);
    }

    // ---------------------------------------------------------------- end to end

    [Fact(DisplayName = "A persistent actor recovers from its latest snapshot plus the events persisted after it")]
    public void PersistentActorRecovers()
    {
        var pid = "actor-" + Pid;
        var first = Sys.ActorOf(Props.Create(() => new ListActor(pid)));
        foreach (var item in new[] { "a", "b", "c" }) { first.Tell(item, TestActor); ExpectMsg("ok:" + item); }
        first.Tell("snap", TestActor);
        AwaitAssert(() => Assert.NotNull(Load(SnapshotSelectionCriteria.Latest, pid: pid).Snapshot), TimeSpan.FromSeconds(15));
        foreach (var item in new[] { "d", "e" }) { first.Tell(item, TestActor); ExpectMsg("ok:" + item); }
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        var second = Sys.ActorOf(Props.Create(() => new ListActor(pid)));
        second.Tell("state", TestActor);
        ExpectMsg("a,b,c,d,e");
        second.Tell("f", TestActor);
        ExpectMsg("ok:f");
        var (events, highest) = Replay(pid: pid);
        Assert.Equal(["a", "b", "c", "d", "e", "f"], events.Select(e => (string)e.Payload));
        Assert.Equal(6, highest);
    }

    // ---------------------------------------------------------------- snapshot store

    private LoadSnapshotResult Load(SnapshotSelectionCriteria criteria, long toSequenceNr = long.MaxValue, string? pid = null)
    {
        SnapshotStore.Tell(new LoadSnapshot(pid ?? Pid, criteria, toSequenceNr), _writer.Ref);
        return _writer.ExpectMsg<LoadSnapshotResult>();
    }

    [Fact(DisplayName = "Snapshot store loads nothing for an unknown persistence id")]
    public void NoSnapshotForUnknownId() => Assert.Null(Load(SnapshotSelectionCriteria.Latest, pid: "never-saved").Snapshot);

    [Fact(DisplayName = "Snapshot store loads nothing when no snapshot is older than the timestamp bound")]
    public void NoSnapshotBeforeTimestamp() => Assert.Null(Load(new SnapshotSelectionCriteria(long.MaxValue, new DateTime(100000))).Snapshot);

    [Fact(DisplayName = "Snapshot store loads nothing when no snapshot is at or below the sequence number bound")]
    public void NoSnapshotBelowSequenceNr()
    {
        Assert.Null(Load(new SnapshotSelectionCriteria(7)).Snapshot);
        Assert.Null(Load(SnapshotSelectionCriteria.Latest, toSequenceNr: 7).Snapshot);
    }

    [Fact(DisplayName = "Snapshot store loads the most recent snapshot")]
    public void LoadsMostRecent()
    {
        var loaded = Load(SnapshotSelectionCriteria.Latest).Snapshot;
        Assert.Equal(Snapshots[4], loaded.Metadata);
        Assert.Equal("s-5", loaded.Snapshot);
    }

    [Fact(DisplayName = "Snapshot store loads the most recent snapshot at or below a sequence number bound")]
    public void LoadsBySequenceNr()
    {
        Assert.Equal("s-3", Load(new SnapshotSelectionCriteria(13)).Snapshot.Snapshot);
        Assert.Equal(Snapshots[2], Load(SnapshotSelectionCriteria.Latest, toSequenceNr: 13).Snapshot.Metadata);
    }

    [Fact(DisplayName = "Snapshot store loads the most recent snapshot within sequence number and timestamp bounds")]
    public void LoadsBySequenceNrAndTimestamp()
    {
        Assert.Equal(Snapshots[2], Load(new SnapshotSelectionCriteria(13, Snapshots[2].Timestamp)).Snapshot.Metadata);
        Assert.Equal(Snapshots[2], Load(new SnapshotSelectionCriteria(long.MaxValue, Snapshots[2].Timestamp), toSequenceNr: 13).Snapshot.Metadata);
    }

    [Fact(DisplayName = "Snapshot store deletes one snapshot identified by its sequence number")]
    public void DeletesOne()
    {
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(Pid, Snapshots[2].SequenceNr, DateTime.MinValue)) /* timestamp: any */, _writer.Ref);
        _writer.ExpectMsg<DeleteSnapshotSuccess>();
        var loaded = Load(new SnapshotSelectionCriteria(Snapshots[2].SequenceNr)).Snapshot;
        Assert.Equal(Snapshots[1], loaded.Metadata);
        Assert.Equal("s-2", loaded.Snapshot);
    }

    [Fact(DisplayName = "Snapshot store deletes every snapshot matching sequence number and timestamp bounds")]
    public void DeletesByCriteria()
    {
        var md = Snapshots[2];
        SnapshotStore.Tell(new DeleteSnapshots(Pid, new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp)), _writer.Ref);
        _writer.ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Null(Load(new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp)).Snapshot);
        Assert.Equal("s-4", Load(new SnapshotSelectionCriteria(Snapshots[3].SequenceNr, Snapshots[3].Timestamp)).Snapshot.Snapshot);
    }

    [Fact(DisplayName = "Snapshot store keeps snapshots newer than the timestamp bound of a delete")]
    public void DeleteRespectsTimestamp()
    {
        var md = Snapshots[3];
        SnapshotStore.Tell(new DeleteSnapshots(Pid, new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp.AddTicks(-1))), _writer.Ref);
        _writer.ExpectMsg<DeleteSnapshotsSuccess>();
        Assert.Equal(md, Load(new SnapshotSelectionCriteria(md.SequenceNr, md.Timestamp)).Snapshot.Metadata);
    }

    [Fact(DisplayName = "Snapshot store overwrites a snapshot saved again with the same sequence number")]
    public void OverwritesSameSequenceNr()
    {
        SnapshotStore.Tell(new SaveSnapshot(Snapshots[4], "s-5-modified"), _writer.Ref);
        _writer.ExpectMsg<SaveSnapshotSuccess>();
        var loaded = Load(new SnapshotSelectionCriteria(Snapshots[4].SequenceNr)).Snapshot;
        Assert.Equal("s-5-modified", loaded.Snapshot);
        Assert.Equal(Snapshots[4].SequenceNr, loaded.Metadata.SequenceNr);
    }

    [Fact(DisplayName = "Snapshot store saves and loads back a 10 KB snapshot byte for byte")]
    public void SavesBigSnapshot()
    {
        var big = new byte[10_000];
        new Random(7).NextBytes(big);
        SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(Pid, 100, DateTime.UtcNow), big), _writer.Ref);
        _writer.ExpectMsg<SaveSnapshotSuccess>();
        Assert.Equal(big, Assert.IsType<byte[]>(Load(SnapshotSelectionCriteria.Latest).Snapshot.Snapshot));
    }

    [Fact(DisplayName = "Snapshot store round-trips a snapshot through the serializer")]
    public void RoundTripsSnapshot()
    {
        var snapshot = new RoundTripEvent("state", 7, CreateTestProbe().Ref);
        SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(Pid, 100, DateTime.UtcNow), snapshot), _writer.Ref);
        _writer.ExpectMsg<SaveSnapshotSuccess>();
        Assert.Equal(snapshot, Load(SnapshotSelectionCriteria.Latest).Snapshot.Snapshot);
    }
}
