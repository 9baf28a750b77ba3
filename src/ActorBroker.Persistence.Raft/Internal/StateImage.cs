using System.Text;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// A <see cref="JournalState"/> as it goes to disk or over the network, in one of two forms:
/// <list type="bullet">
/// <item><b>indexed</b> (version 2): every event as its place in the <see cref="EventSegments"/> files, plus the list of
/// files. What a replica writes as its own snapshot: tens of bytes per event, where copying every body again made
/// compaction cost O(journal) per snapshot.</item>
/// <item><b>full</b> (version 1): every body inline. What a member behind the compacted log receives (it has none of the
/// files), and what snapshots written by earlier versions of this journal are.</item>
/// </list>
/// Both start with the same header (fencing epoch, recent operation outcomes) and list the persistence ids the same
/// way; only an event's body part differs.
/// </summary>
internal sealed record StateImage(long MaxEpoch, (Guid Id, OperationOutcome Outcome)[] Recent, SegmentExtent[] Segments, StateImage.Id[] Ids)
{
    public const byte Full = 1, Indexed = 2;

    /// <summary>One persistence id's part.</summary>
    internal sealed record Id(string PersistenceId, long Highest, long DeletedTo, EventEntry[] Events, StoredSnapshot[] Snapshots);

    /// <summary>Reads a body's bytes into a span of exactly its length.</summary>
    public delegate void BodyReader(BodyLocation location, Span<byte> destination);

    /// <summary>Writes the indexed form (left open), calling <paramref name="onProgress"/> after every 65536 events.</summary>
    public void WriteIndexed(Stream destination, CancellationToken token, Action? onProgress = null)
    {
        using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
        WriteHeader(writer, Indexed);
        writer.Write(Segments.Length);
        foreach (var segment in Segments)
        {
            writer.Write(segment.Id);
            writer.Write(segment.Length);
        }
        WriteIds(writer, token, 65536, onProgress, e =>
        {
            writer.Write(e.Body.Segment);
            writer.Write(e.Body.Offset);
            writer.Write(e.Body.Length);
        });
    }

    /// <summary>Writes the full form (left open), bodies read through <paramref name="readBody"/>.</summary>
    public void WriteFull(Stream destination, BodyReader readBody, CancellationToken token, Action? onProgress = null)
    {
        using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
        WriteHeader(writer, Full);
        var body = new byte[4096];
        WriteIds(writer, token, 4096, onProgress, e =>
        {
            if (body.Length < e.Body.Length) body = new byte[Math.Max(e.Body.Length, body.Length * 2)];
            readBody(e.Body, body.AsSpan(0, e.Body.Length));
            writer.Write(e.Body.Length); // the layout of OperationCodec.WriteBytes
            writer.Write(body, 0, e.Body.Length);
        });
    }

    /// <summary>Reads the form an image starts with (<see cref="Full"/> or <see cref="Indexed"/>).</summary>
    public static byte ReadVersion(Stream source)
    {
        var version = source.ReadByte();
        return version is Full or Indexed
            ? (byte)version
            : throw new InvalidDataException($"raft journal: unsupported state snapshot version [{version}], expected [{Full}] or [{Indexed}]");
    }

    /// <summary>
    /// Reads the rest of an image of the given form. A full image's bodies are handed to <paramref name="storeBody"/>
    /// as they are read (so a large one is never in memory at once), and its events point where that put them; it
    /// lists no segment files.
    /// </summary>
    public static StateImage Read(Stream source, byte version, Func<byte[], BodyLocation> storeBody)
    {
        using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
        var maxEpoch = reader.ReadInt64();
        var recent = new (Guid, OperationOutcome)[reader.ReadInt32()];
        for (var i = 0; i < recent.Length; i++)
            recent[i] = (OperationCodec.ReadGuid(reader), new OperationOutcome((OutcomeCode)reader.ReadByte(), reader.ReadInt64(), reader.ReadString()));
        var segments = new SegmentExtent[version == Indexed ? reader.ReadInt32() : 0];
        for (var i = 0; i < segments.Length; i++) segments[i] = new SegmentExtent(reader.ReadInt32(), reader.ReadInt64());
        var ids = new Id[reader.ReadInt32()];
        for (var i = 0; i < ids.Length; i++)
        {
            var (pid, highest, deletedTo) = (reader.ReadString(), reader.ReadInt64(), reader.ReadInt64());
            var events = new EventEntry[reader.ReadInt32()];
            for (var j = 0; j < events.Length; j++)
            {
                var sequenceNr = reader.ReadInt64();
                events[j] = new EventEntry(sequenceNr, version == Indexed
                    ? new BodyLocation(reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt32())
                    : storeBody(OperationCodec.ReadBytes(reader)));
            }
            var snapshots = new StoredSnapshot[reader.ReadInt32()];
            for (var j = 0; j < snapshots.Length; j++) snapshots[j] = OperationCodec.ReadSnapshot(reader);
            ids[i] = new Id(pid, highest, deletedTo, events, snapshots);
        }
        return new StateImage(maxEpoch, recent, segments, ids);
    }

    private void WriteHeader(BinaryWriter writer, byte version)
    {
        writer.Write(version);
        writer.Write(MaxEpoch);
        writer.Write(Recent.Length);
        foreach (var (id, outcome) in Recent)
        {
            writer.Write(id.ToByteArray());
            writer.Write((byte)outcome.Code);
            writer.Write(outcome.LogIndex);
            writer.Write(outcome.Detail);
        }
    }

    private void WriteIds(BinaryWriter writer, CancellationToken token, int progressEvery, Action? onProgress, Action<EventEntry> writeBody)
    {
        writer.Write(Ids.Length);
        var written = 0L;
        foreach (var state in Ids)
        {
            token.ThrowIfCancellationRequested();
            writer.Write(state.PersistenceId);
            writer.Write(state.Highest);
            writer.Write(state.DeletedTo);
            writer.Write(state.Events.Length);
            foreach (var e in state.Events)
            {
                if (++written % progressEvery == 0)
                {
                    token.ThrowIfCancellationRequested();
                    writer.Flush();
                    onProgress?.Invoke();
                }
                writer.Write(e.SequenceNr);
                writeBody(e);
            }
            writer.Write(state.Snapshots.Length);
            foreach (var snapshot in state.Snapshots) OperationCodec.WriteSnapshot(writer, snapshot);
        }
    }
}

/// <summary>One stored event: its sequence number and where its bytes are.</summary>
internal readonly record struct EventEntry(long SequenceNr, BodyLocation Body);
