using ActorBroker.Coordination;
using ActorBroker.Persistence.File;
using ActorBroker.Persistence.File.Internal;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Xunit;
using Xunit.Abstractions;

namespace ActorBroker.Conformance.Journals;

/// <summary>
/// The journal suite against <see cref="FileJournal"/> / <see cref="FileSnapshotStore"/> in a fresh temporary
/// directory per test, plus the file journal's own cases: torn tails, epoch fencing, group commit, segment removal.
/// </summary>
public sealed class FileJournalSpec : JournalConformanceSpec
{
    private readonly string _root;
    private readonly List<ActorSystem> _systems = [];

    public FileJournalSpec(ITestOutputHelper output) : this(NewRoot(), output) { }

    private FileJournalSpec(string root, ITestOutputHelper output)
        : base(PluginConfig(Path.Combine(root, "main")), nameof(FileJournalSpec), output) => _root = root;

    private static string NewRoot() => Path.Combine(Path.GetTempPath(), "actorbroker-file-journal", Guid.NewGuid().ToString("N"));

    /// <summary>
    /// The plugin config the node profiles use, pointed at <paramref name="directory"/>, which is created: it stands for
    /// the node's data directory or the shared directory, which exist before a node starts (the journal never creates them).
    /// </summary>
    public static Config PluginConfig(string directory, string extra = "")
    {
        Directory.CreateDirectory(directory);
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "actorbroker.persistence.file.journal"
            akka.persistence.snapshot-store.plugin = "actorbroker.persistence.file.snapshot-store"
            actorbroker.persistence.file.journal.directory = "{{Path.Combine(directory, "journal")}}"
            actorbroker.persistence.file.snapshot-store.directory = "{{Path.Combine(directory, "snapshots")}}"
            {{extra}}
            """).WithFallback(FileJournalConfig.Default);
    }

    // ---------------------------------------------------------------- helpers: extra actor systems on one directory

    private ActorSystem StartSystem(string name, long epoch, string extra = "")
    {
        var system = ActorSystem.Create(name, PluginConfig(Path.Combine(_root, "shared"), extra).WithFallback(Sys.Settings.Config));
        _systems.Add(system);
        if (epoch > 0) FencingTokens.Get(system).Advance(epoch);
        return system;
    }

    private string SharedJournalDirectory => Path.Combine(_root, "shared", "journal");

    private object Write(ActorSystem system, string pid, params (long Seq, string Payload)[] events)
    {
        var probe = CreateTestProbe(system);
        var writes = events.Select(e => (IPersistentEnvelope)new AtomicWrite(
            new Persistent(e.Payload, e.Seq, pid, "", false, ActorRefs.NoSender, "w"))).ToArray();
        Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null).Tell(new WriteMessages(writes, probe.Ref, 1));
        var outcome = probe.ExpectMsg<object>();
        foreach (var _ in events) probe.ExpectMsg<object>(); // per-event success / failure
        return outcome;
    }

    private (List<string> Payloads, long Highest) ReplayIn(ActorSystem system, string pid)
    {
        var probe = CreateTestProbe(system);
        Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null).Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, pid, probe.Ref));
        var payloads = new List<string>();
        while (true)
        {
            switch (probe.ExpectMsg<object>())
            {
                case ReplayedMessage m: payloads.Add((string)m.Persistent.Payload); break;
                case RecoverySuccess s: return (payloads, s.HighestSequenceNr);
                case var other: throw new Xunit.Sdk.XunitException($"unexpected {other}");
            }
        }
    }

    private void Stop(ActorSystem system)
    {
        system.Terminate().Wait(TimeSpan.FromSeconds(30));
        _systems.Remove(system);
    }

    private string[] SegmentFiles() => Directory.GetFiles(SharedJournalDirectory, "seg-*.log").Order(StringComparer.Ordinal).ToArray();

    // ---------------------------------------------------------------- crash safety

    [Fact(DisplayName = "File journal detects a torn tail by its checksum, truncates it on recovery and never replays it")]
    public void TornTailIsTruncated()
    {
        var first = StartSystem("torn1", 0);
        Assert.IsType<WriteMessagesSuccessful>(Write(first, "t", (1, "one"), (2, "two")));
        Assert.IsType<WriteMessagesSuccessful>(Write(first, "t", (3, "three")));
        Stop(first);

        var segment = SegmentFiles().Last(f => new FileInfo(f).Length > 0);
        var intactLength = new FileInfo(segment).Length;
        using (var file = File.Open(segment, FileMode.Open)) file.SetLength(intactLength - 7); // a write cut short by a crash

        var second = StartSystem("torn2", 0);
        var (payloads, highest) = ReplayIn(second, "t");
        Assert.Equal(["one", "two"], payloads);
        Assert.Equal(2, highest);
        Assert.True(new FileInfo(segment).Length < intactLength - 7, "the torn record was truncated away");
        Assert.IsType<WriteMessagesSuccessful>(Write(second, "t", (3, "three again")));
        Stop(second);

        var third = StartSystem("torn3", 0);
        Assert.Equal(["one", "two", "three again"], ReplayIn(third, "t").Payloads);
    }

    [Fact(DisplayName = "File journal does not replay a record whose checksum no longer matches (bit flip)")]
    public void CorruptRecordIsNotReplayed()
    {
        var first = StartSystem("flip1", 0);
        Assert.IsType<WriteMessagesSuccessful>(Write(first, "c", (1, "one")));
        Assert.IsType<WriteMessagesSuccessful>(Write(first, "c", (2, "two-payload")));
        Stop(first);

        var segment = SegmentFiles().Last(f => new FileInfo(f).Length > 0);
        var bytes = File.ReadAllBytes(segment);
        bytes[^3] ^= 0x40; // inside the payload of the last record
        File.WriteAllBytes(segment, bytes);

        var second = StartSystem("flip2", 0);
        var (payloads, highest) = ReplayIn(second, "c");
        Assert.Equal(["one"], payloads);
        Assert.Equal(1, highest);
    }

    // ---------------------------------------------------------------- fencing

    [Fact(DisplayName = "File journal refuses a stale master (epoch 1) after epoch 2 took over, and replays only epoch 2's history")]
    public void StaleMasterIsFencedOut()
    {
        var stale = StartSystem("epoch1", 1);
        Assert.IsType<WriteMessagesSuccessful>(Write(stale, "q", (1, "m1"), (2, "m2"), (3, "m3")));

        var current = StartSystem("epoch2", 2);
        Assert.Equal(["m1", "m2", "m3"], ReplayIn(current, "q").Payloads);
        Assert.IsType<WriteMessagesSuccessful>(Write(current, "q", (4, "new-master-4")));

        var refused = Assert.IsType<WriteMessagesFailed>(Write(stale, "q", (4, "stale-4"), (5, "stale-5")));
        var fenced = Assert.IsType<FencedOutException>(refused.Cause is AggregateException a ? a.InnerException : refused.Cause);
        Assert.Equal(1, fenced.WriterEpoch);
        Assert.Equal(2, fenced.FenceEpoch);

        Stop(current);
        var restarted = StartSystem("epoch2-again", 2);
        var (payloads, highest) = ReplayIn(restarted, "q");
        Assert.Equal(["m1", "m2", "m3", "new-master-4"], payloads);
        Assert.Equal(4, highest);
    }

    [Fact(DisplayName = "File journal ignores bytes a stale writer appended past the seal the new epoch recorded")]
    public void AppendsPastTheSealAreIgnored()
    {
        Directory.CreateDirectory(SharedJournalDirectory);
        using var stale = new SegmentLog(SharedJournalDirectory, fsync: true, 1 << 20, _ => { });
        stale.TakeOver(1);
        Append(stale, "r", 1, 1, "before-takeover");

        using var current = new SegmentLog(SharedJournalDirectory, fsync: true, 1 << 20, _ => { });
        current.TakeOver(2);
        // The stale writer passed its pre-write fence check just before the takeover: its bytes land after the seal.
        var staleSegment = SegmentFiles().First();
        var buffer = new GrowableBuffer();
        RecordFormat.WriteEvents(buffer, 1, "r", "w", [new StoredEvent(2, 0, 1, "", "", "late"u8.ToArray())], []);
        using (var file = File.Open(staleSegment, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) file.Write(buffer.WrittenSpan);
        // ...and its post-write fence check refuses the write it tried through the journal.
        Assert.Throws<FencedOutException>(() => Append(stale, "r", 2, 1, "refused"));

        using var reader = new SegmentLog(SharedJournalDirectory, fsync: true, 1 << 20, _ => { });
        reader.RefreshIfFenceMoved();
        Assert.Equal(1, reader.HighestSequenceNr("r"));
        Assert.Equal([1L], reader.Locate("r", 1, long.MaxValue, long.MaxValue).Select(l => l.SequenceNr));
    }

    [Fact(DisplayName = "File journal ignores records of a lower epoch that follow a higher epoch's records")]
    public void LowerEpochAfterHigherIsIgnored()
    {
        Directory.CreateDirectory(SharedJournalDirectory);
        using (var writer = new SegmentLog(SharedJournalDirectory, fsync: true, 1 << 20, _ => { }))
        {
            writer.TakeOver(2);
            Append(writer, "e", 1, 2, "epoch-2");
        }
        var buffer = new GrowableBuffer();
        RecordFormat.WriteEvents(buffer, 1, "e", "w", [new StoredEvent(2, 0, 1, "", "", "x"u8.ToArray())], []);
        using (var file = File.Open(SegmentFiles().Last(), FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) file.Write(buffer.WrittenSpan);

        using var reader = new SegmentLog(SharedJournalDirectory, fsync: true, 1 << 20, _ => { });
        reader.RefreshIfFenceMoved();
        Assert.Equal(1, reader.HighestSequenceNr("e"));
    }

    private static void Append(SegmentLog log, string pid, long seq, long epoch, string payload)
    {
        var buffer = new GrowableBuffer();
        var slices = new List<(int, int)>();
        RecordFormat.WriteEvents(buffer, epoch, pid, "w", [new StoredEvent(seq, 0, 1, "", "", System.Text.Encoding.UTF8.GetBytes(payload))], slices);
        log.Append(buffer, [new EventsUpdate(pid, 0, "w", [(seq, slices[0].Item1, slices[0].Item2)])]);
    }

    // ---------------------------------------------------------------- group commit and space

    [Fact(DisplayName = "File journal commits 200 concurrently queued appends with far fewer fsyncs, each completing only after one")]
    public async Task GroupCommit()
    {
        Directory.CreateDirectory(SharedJournalDirectory);
        var log = new SegmentLog(SharedJournalDirectory, fsync: true, 64 << 20, _ => { });
        var writer = new GroupCommitWriter(log, () => 1, 4 << 20, 10_000, _ => { });
        await using (writer)
        {
            var payload = new byte[1024];
            var writes = Enumerable.Range(0, 200).Select(i => writer.Enqueue(new AppendRequest(
                [new PreparedWrite($"g-{i}", "w", [new StoredEvent(1, 0, 1, "", "", payload)])]))).ToArray();
            await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.All(Enumerable.Range(0, 200), i => Assert.Equal(1, log.HighestSequenceNr($"g-{i}")));
            Assert.True(writer.Commits < 100, $"expected batching, got {writer.Commits} commits for 200 appends");
        }
    }

    [Fact(DisplayName = "File journal removes segments once every event in them is deleted and keeps the highest sequence number")]
    public void DeletedSegmentsAreRemoved()
    {
        const string small = "actorbroker.persistence.file.journal { segment-size = 64 KiB, max-batch-bytes = 8 KiB }";
        var system = StartSystem("segments1", 0, small);
        var payload = new string('x', 1000);
        for (var seq = 1; seq <= 200; seq += 10)
            Assert.IsType<WriteMessagesSuccessful>(Write(system, "big", Enumerable.Range(seq, 10).Select(s => ((long)s, payload)).ToArray()));
        var before = SegmentFiles().Length;
        Assert.True(before >= 3, $"expected several segments, got {before}");

        var probe = CreateTestProbe(system);
        Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null).Tell(new DeleteMessagesTo("big", 200, probe.Ref));
        probe.ExpectMsg<DeleteMessagesSuccess>();
        Assert.True(SegmentFiles().Length < before, $"segments {before} -> {SegmentFiles().Length}");
        Stop(system);

        var restarted = StartSystem("segments2", 0, small);
        var (payloads, highest) = ReplayIn(restarted, "big");
        Assert.Empty(payloads);
        Assert.Equal(200, highest);
    }

    // ---------------------------------------------------------------- settings

    [Theory(DisplayName = "File journal settings refuse invalid values with an error naming the key")]
    [InlineData("segment-size = 1 KiB", "actorbroker.persistence.file.journal.segment-size")]
    [InlineData("max-batch-bytes = 128 MiB", "actorbroker.persistence.file.journal.max-batch-bytes")]
    [InlineData("write-queue-size = 0", "actorbroker.persistence.file.journal.write-queue-size")]
    [InlineData("directory = \"\"", "actorbroker.persistence.file.journal.directory")]
    public void SettingsAreValidated(string setting, string key)
    {
        var section = ConfigurationFactory.ParseString(setting).WithFallback(FileJournalConfig.Default.GetConfig(FileJournalSettings.ConfigPath));
        var error = Assert.Throws<ConfigurationException>(() => FileJournalSettings.Create(section));
        Assert.Contains(key, error.Message);
    }

    [Fact(DisplayName = "File journal never recreates a missing shared directory: a write fails naming it, and nothing is created")]
    public void MissingSharedDirectoryIsNotRecreated()
    {
        var shared = Path.Combine(_root, "shared");
        var system = StartSystem("share-gone", 1);
        Directory.Delete(shared, recursive: true); // the share is unmounted before this node ever wrote

        var outcome = Write(system, "q", (1, "m1"));
        var failed = Assert.IsType<WriteMessagesFailed>(outcome);
        Assert.Contains(shared, failed.Cause.Message);
        Assert.False(Directory.Exists(shared), "the journal recreated the missing shared directory");
    }

    [Fact(DisplayName = "File journal fails recovery, instead of recovering nothing, when the fence file is corrupt")]
    public void CorruptFenceFailsRecovery()
    {
        var first = StartSystem("fence1", 0);
        Assert.IsType<WriteMessagesSuccessful>(Write(first, "f", (1, "one")));
        Stop(first);
        File.WriteAllBytes(Path.Combine(SharedJournalDirectory, "fence"), [1, 2, 3, 4, 5, 6, 7]);

        var second = StartSystem("fence2", 0);
        var probe = CreateTestProbe(second);
        Akka.Persistence.Persistence.Instance.Apply(second).JournalFor(null).Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, "f", probe.Ref));
        var failure = probe.ExpectMsg<ReplayMessagesFailure>();
        Assert.Contains("fence", failure.Cause.ToString());
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var system in _systems.ToList()) Stop(system);
        base.Dispose(disposing);
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
