using System.Collections.Concurrent;
using System.Collections.Immutable;
using ActorBroker.Coordination;
using ActorBroker.Persistence.File.Internal;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace ActorBroker.Persistence.File;

/// <summary>
/// Akka.Persistence journal over append-only, checksummed segment files in one (possibly shared) directory.
/// Writes from all persistent actors are group-committed by one writer thread (one write + one fsync per batch);
/// a write completes only after its fsync. Every batch carries the lease epoch of this actor system
/// (<see cref="FencingTokens"/>); a writer whose epoch is below the directory's fence is refused.
/// </summary>
/// <remarks>
/// Contract (AsyncWriteJournal): an AtomicWrite that cannot be serialized is <em>rejected</em> (its exception is
/// returned in the result list, the others are written); an I/O error or a fenced-out writer <em>fails</em> the
/// whole call. <see cref="ReadHighestSequenceNrAsync"/> waits for writes of that persistence id still in flight.
/// </remarks>
public sealed class FileJournal : AsyncWriteJournal
{
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly SegmentLog _log;
    private readonly GroupCommitWriter _writer;
    private readonly ConcurrentDictionary<string, Task> _writesInFlight = new(StringComparer.Ordinal);

    public FileJournal() : this(Context.System.Settings.Config.GetConfig(FileJournalSettings.ConfigPath)) { }

    public FileJournal(Config config)
    {
        Settings = FileJournalSettings.Create(config);
        _serialization = Context.System.Serialization;
        var logger = Context.GetLogger();
        var tokens = FencingTokens.Get(Context.System);
        _log = new SegmentLog(Settings.Directory, Settings.Fsync, Settings.SegmentSize, m => logger.Warning(m));
        _writer = new GroupCommitWriter(_log, () => tokens.Current, Settings.MaxBatchBytes, Settings.WriteQueueSize, m => logger.Warning(m));
        // Open eagerly (take over or index as a reader), so the first recovery does not pay for it.
        _ = _writer.Enqueue(new SyncRequest());
    }

    public FileJournalSettings Settings { get; }

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        var results = new Exception?[writes.Count];
        var prepared = new List<PreparedWrite>(writes.Count);
        for (var i = 0; i < writes.Count; i++)
        {
            try { prepared.Add(Prepare(writes[i])); }
            catch (Exception e) { results[i] = e; } // rejection: this AtomicWrite only
        }
        var rejected = prepared.Count < writes.Count;
        if (prepared.Count == 0) return Task.FromResult<IImmutableList<Exception?>>(results.ToImmutableList());

        var committed = _writer.Enqueue(new AppendRequest(prepared));
        foreach (var pid in prepared.Select(p => p.PersistenceId).Distinct()) Track(pid, committed);
        return committed.ContinueWith(
            t =>
            {
                t.GetAwaiter().GetResult(); // an I/O failure fails the whole call
                return rejected ? results.ToImmutableList() : (IImmutableList<Exception?>)null!;
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default); // a write under way cannot be cancelled honestly
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (_writesInFlight.TryGetValue(persistenceId, out var inFlight))
            await inFlight.ContinueWith(_ => { }, TaskScheduler.Default); // finished is enough, success or not
        // Orders after every queued write, and makes a new lease epoch take over before the first recovery reads.
        await _writer.Enqueue(new SyncRequest());
        return _log.HighestSequenceNr(persistenceId);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (max <= 0 || fromSequenceNr > toSequenceNr) return Task.CompletedTask;
        return Task.Run(() =>
        {
            foreach (var location in _log.Locate(persistenceId, fromSequenceNr, toSequenceNr, max))
            {
                var stored = _log.ReadEvent(location);
                var payload = _serialization.Deserialize(stored.Payload.ToArray(), stored.SerializerId, stored.SerializerManifest);
                recoveryCallback(new Persistent(payload, stored.SequenceNr, persistenceId, stored.AdapterManifest, false,
                    ActorRefs.NoSender, location.WriterUuid, stored.Timestamp));
            }
        });
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        var deleted = _writer.Enqueue(new DeleteRequest(persistenceId, toSequenceNr));
        Track(persistenceId, deleted);
        return deleted;
    }

    protected override void PostStop()
    {
        if (!_writer.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(30)))
            Context.GetLogger().Warning("File journal [{0}] writer did not stop within 30s", Settings.Directory);
        base.PostStop();
    }

    private void Track(string persistenceId, Task write)
    {
        _writesInFlight[persistenceId] = write;
        write.ContinueWith(_ => _writesInFlight.TryRemove(new KeyValuePair<string, Task>(persistenceId, write)),
            TaskScheduler.Default);
    }

    private PreparedWrite Prepare(AtomicWrite write)
    {
        var events = (IImmutableList<IPersistentRepresentation>)write.Payload;
        var stored = new List<StoredEvent>(events.Count);
        string? writerUuid = null;
        foreach (var e in events)
        {
            writerUuid ??= e.WriterGuid ?? "";
            // Tags are not stored: this journal serves recovery, not Akka.Persistence.Query.
            var payload = e.Payload is Tagged tagged ? tagged.Payload : e.Payload;
            var serializer = _serialization.FindSerializerFor(payload);
            var bytes = serializer.ToBinary(payload);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
            stored.Add(new StoredEvent(e.SequenceNr, e.Timestamp != 0 ? e.Timestamp : DateTime.UtcNow.Ticks, serializer.Identifier,
                manifest, e.Manifest ?? "", bytes));
        }
        return new PreparedWrite(write.PersistenceId, writerUuid ?? "", stored);
    }
}
