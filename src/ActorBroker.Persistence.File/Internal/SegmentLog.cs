using ActorBroker.Coordination;
using System.Buffers;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>A record of a batch about to be appended, with what the index must learn once it is durable.</summary>
internal abstract record IndexUpdate(string PersistenceId, int RecordOffset);

internal sealed record EventsUpdate(string PersistenceId, int RecordOffset, string WriterUuid, List<(long SequenceNr, int Offset, int Length)> Events)
    : IndexUpdate(PersistenceId, RecordOffset);

internal sealed record TombstoneUpdate(string PersistenceId, int RecordOffset, long DeletedTo, long HighestSequenceNr)
    : IndexUpdate(PersistenceId, RecordOffset);

/// <summary>
/// The segment files of one journal directory and the in-memory index over them. All mutating calls come from
/// one thread (the group-commit writer); readers (replay, highest sequence number) take <see cref="_lock"/> to copy
/// locations and then read the files with positional reads, outside the lock.
/// </summary>
internal sealed class SegmentLog(string directory, bool fsync, long segmentSize, Action<string> warn) : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<string, PersistenceIdIndex> _index = new(StringComparer.Ordinal);
    private readonly List<Segment> _segments = [];
    private Segment? _active;
    private bool _activeBroken;

    public string Directory { get; } = directory;

    /// <summary>Epoch this instance appends with, or -1 while it is only a reader (never took over, or fenced out).</summary>
    public long WriterEpoch
    {
        get => _writerEpoch;
        private set { _writerEpoch = value; if (value >= 0) _lastWriterEpoch = value; }
    }

    private long _writerEpoch = -1;
    private long _lastWriterEpoch = -1;

    /// <summary>Fence epoch seen at the last (re)build of the index.</summary>
    public long KnownFenceEpoch { get; private set; } = -1;

    /// <summary>Becomes the writer for <paramref name="epoch"/>: moves the fence, seals older segments, rebuilds the index.</summary>
    /// <exception cref="FencedOutException">a higher epoch already owns the directory.</exception>
    public void TakeOver(long epoch)
    {
        StoreDirectory.EnsureExists(Directory);
        var fence = Fence.Read(Directory);
        if (fence.Epoch > epoch)
        {
            _writerEpoch = -1;
            throw new FencedOutException(Directory, epoch, fence.Epoch);
        }
        if (epoch > fence.Epoch)
        {
            // Phase 1: publish the epoch. Every stale append that completes after this fails its post-write check.
            new Fence(epoch, fence.SealedLengths).Write(Directory, fsync: true);
            // Phase 2: measure older segments now; every acknowledged stale append lies below these lengths.
            var seals = new Dictionary<string, long>(fence.SealedLengths, StringComparer.Ordinal);
            foreach (var (name, segmentEpoch, _) in ListSegmentFiles())
                if (segmentEpoch < epoch && !seals.ContainsKey(name))
                    seals[name] = new FileInfo(Path.Combine(Directory, name)).Length;
            foreach (var stale in seals.Keys.Where(n => !System.IO.File.Exists(Path.Combine(Directory, n))).ToList())
                seals.Remove(stale);
            new Fence(epoch, seals).Write(Directory, fsync: true);
        }
        Rebuild(truncateTornTails: true);
        WriterEpoch = epoch;
        StartNewSegment();
    }

    /// <summary>Rebuilds the index as a reader when another writer moved the fence since the last build.</summary>
    public bool RefreshIfFenceMoved()
    {
        var epoch = Fence.ReadEpoch(Directory);
        if (epoch == KnownFenceEpoch) return false;
        if (WriterEpoch >= 0 && epoch > WriterEpoch) WriterEpoch = -1;
        Rebuild(truncateTornTails: false);
        return true;
    }

    /// <summary>Appends one batch with a single write and (with fsync on) a single fsync, then indexes it.</summary>
    public void Append(GrowableBuffer batch, IReadOnlyList<IndexUpdate> updates)
    {
        ThrowIfNotWriter();
        CheckFence();
        if (_active is null || _activeBroken || (_active.Length > 0 && _active.Length + batch.Length > segmentSize))
            StartNewSegment();
        var segment = _active!;
        var baseOffset = segment.Length;
        try
        {
            RandomAccess.Write(segment.Handle, batch.WrittenSpan, baseOffset);
            if (fsync) RandomAccess.FlushToDisk(segment.Handle);
        }
        catch (IOException)
        {
            // The tail may hold a partial batch: readers stop at its checksum, and we never append after it.
            _activeBroken = true;
            throw;
        }
        // A takeover may have happened while we wrote: then our bytes lie past its seal and are not history.
        CheckFence();

        lock (_lock)
        {
            segment.Length = baseOffset + batch.Length;
            foreach (var update in updates) Apply(update, segment, baseOffset + update.RecordOffset);
        }
    }

    /// <summary>Fails fast when this instance may not append (never took over, or a newer epoch fenced it out).</summary>
    public void ThrowIfNotWriter()
    {
        if (WriterEpoch < 0) throw new FencedOutException(Directory, _lastWriterEpoch, Fence.ReadEpoch(Directory));
    }

    /// <summary>Locations of live events in [from, to], at most <paramref name="max"/>.</summary>
    public List<EventLocation> Locate(string persistenceId, long from, long to, long max)
    {
        lock (_lock)
        {
            var result = new List<EventLocation>();
            if (!_index.TryGetValue(persistenceId, out var pid)) return result;
            foreach (var e in pid.Events)
            {
                if (result.Count >= max || e.SequenceNr > to) break;
                if (e.SequenceNr >= from) result.Add(e);
            }
            return result;
        }
    }

    public long HighestSequenceNr(string persistenceId)
    {
        lock (_lock) return _index.TryGetValue(persistenceId, out var pid) ? pid.HighestSequenceNr : 0;
    }

    public StoredEvent ReadEvent(EventLocation location)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(location.Length);
        try
        {
            var span = buffer.AsSpan(0, location.Length);
            if (RandomAccess.Read(location.Segment.Handle, span, location.Offset) != location.Length)
                throw new IOException($"Journal segment [{location.Segment.Name}] is shorter than its index says (offset [{location.Offset}])");
            return RecordFormat.ReadEvent(span);
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Segments that hold no live event and are not the active one; their tombstones must be carried first.</summary>
    public List<Segment> RemovableSegments()
    {
        lock (_lock) return _segments.Where(s => s != _active && s.LiveEvents == 0).ToList();
    }

    /// <summary>Tombstones to re-append before <paramref name="segment"/> goes, so deletes and highest numbers survive.</summary>
    public List<(string PersistenceId, long DeletedTo, long HighestSequenceNr)> TombstonesToCarry(Segment segment)
    {
        lock (_lock)
            return segment.PersistenceIds
                .Select(id => (id, pid: _index[id]))
                .Where(x => x.pid.NeedsTombstoneCarriedFrom(segment))
                .Select(x => (x.id, x.pid.DeletedTo, x.pid.HighestSequenceNr))
                .ToList();
    }

    public void Remove(Segment segment)
    {
        lock (_lock)
        {
            _segments.Remove(segment);
            foreach (var pid in segment.PersistenceIds)
                if (_index.TryGetValue(pid, out var index) && index.TombstoneSegment == segment) index.TombstoneSegment = null;
        }
        segment.Handle.Dispose();
        System.IO.File.Delete(Path.Combine(Directory, segment.Name));
    }

    private void CheckFence()
    {
        var fenceEpoch = Fence.ReadEpoch(Directory);
        if (fenceEpoch > WriterEpoch)
        {
            WriterEpoch = -1;
            throw new FencedOutException(Directory, _lastWriterEpoch, fenceEpoch);
        }
    }

    private void StartNewSegment()
    {
        long number;
        lock (_lock) number = _segments.Count == 0 ? 1 : _segments.Max(s => s.Number) + 1;
        foreach (var (_, _, n) in ListSegmentFiles()) number = Math.Max(number, n + 1);
        var name = Segment.FileNameOf(WriterEpoch, number);
        var handle = System.IO.File.OpenHandle(Path.Combine(Directory, name), FileMode.CreateNew, FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        if (fsync) DirectorySync.Flush(Directory); // the new file's name must be as durable as what we fsync into it
        var segment = new Segment(name, WriterEpoch, number, handle, 0);
        lock (_lock) _segments.Add(segment);
        _active = segment;
        _activeBroken = false;
    }

    private IEnumerable<(string Name, long Epoch, long Number)> ListSegmentFiles() =>
        System.IO.Directory.EnumerateFiles(Directory, "seg-*.log")
            .Select(Path.GetFileName)
            .Select(n => Segment.TryParse(n!, out var e, out var num) ? (n!, e, num) : (null!, -1L, -1L))
            .Where(x => x.Item1 is not null)
            .OrderBy(x => x.Item2).ThenBy(x => x.Item3);

    private void Rebuild(bool truncateTornTails)
    {
        var fence = Fence.Read(Directory);
        lock (_lock)
        {
            foreach (var s in _segments) s.Handle.Dispose();
            _segments.Clear();
            _index.Clear();
            _active = null;
            var maxEpochSeen = -1L;
            foreach (var (name, epoch, number) in ListSegmentFiles())
            {
                long limit;
                var path = Path.Combine(Directory, name);
                if (epoch < fence.Epoch)
                {
                    // Created by a stale writer after the fence moved: nothing in it was ever acknowledged as history.
                    if (!fence.SealedLengths.TryGetValue(name, out limit)) continue;
                }
                else if (epoch > fence.Epoch)
                {
                    warn($"Journal segment [{name}] has epoch [{epoch}] above the fence [{fence.Epoch}]; ignored");
                    continue;
                }
                else limit = long.MaxValue;

                var handle = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                var segment = new Segment(name, epoch, number, handle, 0);
                _segments.Add(segment);
                var fileLength = RandomAccess.GetLength(handle);
                limit = Math.Min(limit, fileLength);
                segment.Length = Scan(segment, limit, ref maxEpochSeen);
                if (segment.Length < fileLength && truncateTornTails)
                {
                    warn($"Journal segment [{name}]: torn or corrupt tail at offset [{segment.Length}] of [{fileLength}] bytes; truncated");
                    RandomAccess.SetLength(handle, segment.Length);
                }
                else if (segment.Length < limit)
                    warn($"Journal segment [{name}]: torn or corrupt data at offset [{segment.Length}]; not replayed");
            }
            KnownFenceEpoch = fence.Epoch;
        }
    }

    /// <summary>Indexes intact records up to <paramref name="limit"/>; returns the end of the last intact record.</summary>
    private long Scan(Segment segment, long limit, ref long maxEpochSeen)
    {
        var prefix = new byte[RecordFormat.PrefixSize];
        var body = new byte[64 * 1024];
        long position = 0;
        while (position + RecordFormat.PrefixSize <= limit)
        {
            if (RandomAccess.Read(segment.Handle, prefix, position) != prefix.Length) break;
            if (!RecordFormat.TryReadLength(prefix, out var length, out var crc)) break;
            if (position + RecordFormat.PrefixSize + length > limit) break;
            if (body.Length < length) body = new byte[Math.Max(length, body.Length * 2)];
            var span = body.AsSpan(0, length);
            if (RandomAccess.Read(segment.Handle, span, position + RecordFormat.PrefixSize) != length) break;
            if (!RecordFormat.IsIntact(span, crc)) break;

            var recordEpoch = RecordFormat.EpochOf(span);
            if (recordEpoch < maxEpochSeen)
                warn($"Journal segment [{segment.Name}]: record of epoch [{recordEpoch}] after epoch [{maxEpochSeen}] at offset [{position}]; ignored (stale writer)");
            else
            {
                maxEpochSeen = recordEpoch;
                switch (RecordFormat.KindOf(span))
                {
                    case RecordKind.Events:
                        var (pid, writer, events) = RecordFormat.ReadEvents(span);
                        Apply(new EventsUpdate(pid, 0, writer, events), segment, position);
                        break;
                    case RecordKind.Tombstone:
                        var (tpid, deletedTo, highest) = RecordFormat.ReadTombstone(span);
                        Apply(new TombstoneUpdate(tpid, 0, deletedTo, highest), segment, position);
                        break;
                    default:
                        warn($"Journal segment [{segment.Name}]: unknown record kind [{span[1]}] at offset [{position}]; skipped");
                        break;
                }
            }
            position += RecordFormat.PrefixSize + length;
        }
        return position;
    }

    // Caller holds _lock.
    private void Apply(IndexUpdate update, Segment segment, long recordPosition)
    {
        if (!_index.TryGetValue(update.PersistenceId, out var pid))
            _index[update.PersistenceId] = pid = new PersistenceIdIndex();
        segment.PersistenceIds.Add(update.PersistenceId);
        switch (update)
        {
            case EventsUpdate events:
                foreach (var (seq, offset, length) in events.Events)
                    pid.AddEvent(new EventLocation(seq, segment, recordPosition + offset, length, events.WriterUuid));
                break;
            case TombstoneUpdate tombstone:
                pid.ApplyTombstone(tombstone.DeletedTo, tombstone.HighestSequenceNr, segment);
                break;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var s in _segments) s.Handle.Dispose();
            _segments.Clear();
        }
    }
}
