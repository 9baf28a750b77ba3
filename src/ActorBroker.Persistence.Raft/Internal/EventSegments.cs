using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>Where <see cref="EventSegments"/> keeps one event's bytes.</summary>
internal readonly record struct BodyLocation(int Segment, long Offset, int Length);

/// <summary>A segment file a state snapshot refers to, and how many bytes of it the snapshot's events span.</summary>
internal readonly record struct SegmentExtent(int Id, long Length);

/// <summary>
/// The event bodies of a <see cref="JournalState"/>, appended to segment files on local disk instead of kept in process
/// memory: a deep backlog costs disk and evictable page cache, not heap (every replica holds the whole journal).
/// <para>
/// The files are also the body part of the state snapshots: a snapshot is the index plus references to these files
/// (fsynced when it is taken), so compaction writes tens of bytes per event instead of copying every body again. A
/// file therefore goes only once no live event is in it AND no snapshot refers to it (<see cref="Reference"/>), and
/// nothing is deleted on open: the owner either <see cref="Adopt"/>s the files its newest snapshot lists or
/// <see cref="DeleteAll"/>s them. Appends collect in a 1 MiB buffer written with one write call when full (a round of a
/// thousand events is a few calls, not a thousand); reads see buffered bytes. Bytes are not fsynced as they are
/// appended: the Raft log holds every event not yet in a snapshot. Where the file system allows, files are written
/// unbuffered (<see cref="DirectIo"/>): whole aligned blocks from the buffer, the last partial block written padded and
/// kept in the buffer to be written again with what follows; reads go through a buffered handle of their own.
/// </para>
/// Not thread-safe: the owner serializes access; <see cref="FlushToDisk"/> of referenced files may run on any thread.
/// </summary>
internal sealed class EventSegments : IDisposable
{
    private const string Extension = ".bodies";

    private readonly DirectoryInfo _directory;
    private readonly long _segmentSize;
    private readonly Dictionary<int, Segment> _segments = new();
    private readonly Memory<byte> _buffer; // aligned for unbuffered writes
    private readonly bool _unbuffered;
    private int _current = -1;  // segment being appended to
    private int _nextId;
    private long _length;       // bytes appended to the current segment, buffered ones included
    private long _bufferStart;  // offset in the current segment where the buffered bytes go
    private int _buffered;

    /// <param name="directory">Where the segment files are (created if missing; existing files are left for
    /// <see cref="Adopt"/> or <see cref="DeleteAll"/>).</param>
    /// <param name="segmentSize">Size after which appends go to a new file (64 MiB; smaller in tests).</param>
    /// <param name="bufferSize">Appends collected before one write call (1 MiB; smaller in tests).</param>
    /// <param name="unbuffered">Write files unbuffered where the file system allows (tests cover both ways).</param>
    public EventSegments(DirectoryInfo directory, long segmentSize = 64L << 20, int bufferSize = 1 << 20, bool unbuffered = true)
    {
        _directory = directory;
        _unbuffered = unbuffered;
        _segmentSize = segmentSize;
        _buffer = DirectIo.AlignedBuffer(bufferSize);
        directory.Create();
        _nextId = Existing().Select(f => f.Id + 1).DefaultIfEmpty(0).Max(); // never reuse the name of a file still there
    }

    /// <summary>Appends the bytes and returns where they are.</summary>
    public BodyLocation Append(ReadOnlySpan<byte> bytes)
    {
        if (_current < 0 || (_length > 0 && _length + bytes.Length > _segmentSize)) Roll();
        var location = new BodyLocation(_current, _length, bytes.Length);
        var segment = _segments[_current];
        if (!segment.Direct && bytes.Length > _buffer.Length - _buffered) Flush(); // a buffered file: no body split
        if (bytes.Length >= _buffer.Length && !segment.Direct)
        {
            Write(segment, bytes, _length); // too big to buffer: straight to the file
            _bufferStart = _length + bytes.Length;
        }
        else
        {
            // an unbuffered file takes only aligned writes, so a body bigger than the buffer goes through it in parts
            for (var rest = bytes; !rest.IsEmpty;)
            {
                if (_buffered == _buffer.Length) Flush();
                var part = Math.Min(rest.Length, _buffer.Length - _buffered);
                rest[..part].CopyTo(_buffer.Span[_buffered..]);
                _buffered += part;
                rest = rest[part..];
            }
        }
        _length += bytes.Length;
        segment.LiveEvents++;
        return location;
    }

    /// <summary>A copy of the bytes at <paramref name="location"/>.</summary>
    public byte[] Read(BodyLocation location)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(location.Length);
        var segment = _segments[location.Segment];
        // what lies below the buffer is in the file (a body appended in parts may start there and end in the buffer)
        var inFile = location.Segment == _current ? (int)Math.Clamp(_bufferStart - location.Offset, 0, location.Length) : location.Length;
        if (inFile > 0) ReadFile(segment.ReadHandle, segment.Path, location with { Length = inFile }, bytes.AsSpan(0, inFile));
        if (inFile < location.Length)
            _buffer.Span.Slice((int)(location.Offset + inFile - _bufferStart), location.Length - inFile).CopyTo(bytes.AsSpan(inFile));
        return bytes;
    }

    /// <summary>The event at <paramref name="location"/> was deleted; its file goes once nothing needs it.</summary>
    public void Release(BodyLocation location)
    {
        _segments[location.Segment].LiveEvents--;
        DropIfUnused(location.Segment);
    }

    /// <summary>
    /// For a snapshot being taken: writes buffered bytes out and returns every file holding a live event with the
    /// length appended so far, each now referenced (kept) until <see cref="Unreference"/>d.
    /// </summary>
    public SegmentExtent[] Reference()
    {
        Flush();
        var extents = _segments.Where(s => s.Value.LiveEvents > 0).Select(s => new SegmentExtent(s.Key, s.Key == _current ? _length : s.Value.Length))
            .OrderBy(e => e.Id).ToArray();
        foreach (var extent in extents) _segments[extent.Id].SnapshotRefs++;
        return extents;
    }

    /// <summary>A snapshot that referred to these files is gone (superseded and reclaimed, or never finished).</summary>
    public void Unreference(IEnumerable<int> ids)
    {
        foreach (var id in ids)
            if (_segments.TryGetValue(id, out var segment)) // gone already if the state was replaced meanwhile
            {
                segment.SnapshotRefs--;
                DropIfUnused(id);
            }
    }

    /// <summary>
    /// fsyncs the referenced files through their extents (any thread; the references keep them open). A file no longer
    /// appended to is synced once, not at every snapshot.
    /// </summary>
    public void FlushToDisk(IEnumerable<SegmentExtent> extents)
    {
        foreach (var extent in extents)
        {
            Segment segment;
            lock (_segments) segment = _segments[extent.Id];
            if (segment.SyncedLength >= extent.Length) continue;
            RandomAccess.FlushToDisk(segment.Handle);
            segment.SyncedLength = extent.Length;
        }
    }

    /// <summary>
    /// Takes over the files a restored snapshot lists (each referenced once, for that snapshot) and deletes every
    /// other one: those hold bodies of entries after the snapshot, which the Raft log applies again. Appends go to a
    /// new file. A listed file missing or shorter than listed means the data directory was damaged.
    /// </summary>
    public void Adopt(IReadOnlyCollection<SegmentExtent> extents)
    {
        CloseAll();
        var listed = extents.ToDictionary(e => e.Id);
        foreach (var (id, file) in Existing())
        {
            _nextId = Math.Max(_nextId, id + 1); // names are never reused, not even those of deleted files
            if (!listed.ContainsKey(id)) file.Delete();
        }
        foreach (var extent in extents)
        {
            var path = PathOf(extent.Id);
            var length = File.Exists(path) ? new FileInfo(path).Length : -1;
            if (length < extent.Length)
                throw new RaftJournalException($"event body file [{path}] is {(length < 0 ? "missing" : $"{length} bytes")} but the state snapshot " +
                                               $"needs {extent.Length}: the data directory is damaged; empty it and restart the node to copy the state from the leader");
            var segment = new Segment(path, Open(path, FileMode.Open)) { Length = extent.Length, SyncedLength = extent.Length, SnapshotRefs = 1 };
            lock (_segments) _segments[extent.Id] = segment;
        }
    }

    /// <summary>Counts a restored event whose bytes are at <paramref name="location"/> as live.</summary>
    public void CountLive(BodyLocation location) => _segments[location.Segment].LiveEvents++;

    /// <summary>Deletes every segment file in the directory (no snapshot refers to any, or the state is being replaced).</summary>
    public void DeleteAll()
    {
        CloseAll();
        foreach (var (_, file) in Existing()) file.Delete();
    }

    /// <summary>Segment files in use (for tests).</summary>
    public int Files => _segments.Count;

    /// <summary>Whether the file being appended to is written unbuffered (for tests).</summary>
    public bool WritingUnbuffered => _current >= 0 && _segments[_current].Direct;

    /// <summary>Closes the files; they stay on disk (a snapshot may refer to them).</summary>
    public void Dispose()
    {
        Flush();
        CloseAll();
    }

    /// <summary>The path of segment <paramref name="id"/> in <paramref name="directory"/>.</summary>
    public static string FileOf(DirectoryInfo directory, int id) => Path.Combine(directory.FullName, $"{id:D8}{Extension}");

    /// <summary>Opens a referenced file for reading from any thread (a snapshot being sent to a member that is behind).</summary>
    public static SafeFileHandle OpenForReading(DirectoryInfo directory, int id)
        => File.OpenHandle(FileOf(directory, id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Reads <paramref name="location"/>'s bytes into <paramref name="destination"/> (length = location's).</summary>
    public static void ReadFile(SafeFileHandle handle, string path, BodyLocation location, Span<byte> destination)
    {
        for (var done = 0; done < location.Length;)
        {
            var read = RandomAccess.Read(handle, destination.Slice(done, location.Length - done), location.Offset + done);
            if (read == 0)
                throw new RaftJournalException($"event body file [{path}] ends at {location.Offset + done}, " +
                                               $"{location.Length - done} bytes short (was the data directory changed under a running node?)");
            done += read;
        }
    }

    private void CloseAll()
    {
        foreach (var segment in _segments.Values) segment.Dispose();
        lock (_segments) _segments.Clear();
        _current = -1;
        _length = _bufferStart = 0;
        _buffered = 0;
    }

    private IEnumerable<(int Id, FileInfo File)> Existing()
        => _directory.EnumerateFiles("*" + Extension)
            .Select(f => (Ok: int.TryParse(Path.GetFileNameWithoutExtension(f.Name), out var id), Id: id, File: f))
            .Where(f => f.Ok).Select(f => (f.Id, f.File)).ToList();

    private string PathOf(int id) => FileOf(_directory, id);

    private static SafeFileHandle Open(string path, FileMode mode)
    {
        try
        {
            return File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        }
        catch (IOException e)
        {
            throw new RaftJournalException($"cannot open the event body file [{path}]: {e.Message}", e);
        }
    }

    private void Roll()
    {
        Flush();
        var previous = _current;
        if (previous >= 0) _segments[previous].Length = _length;
        var id = _nextId++;
        var path = PathOf(id);
        var segment = CreateSegment(path, _unbuffered);
        lock (_segments) _segments[id] = segment;
        _current = id;
        _length = _bufferStart = 0;
        _buffered = 0; // an unbuffered file's partial last block, written already
        if (previous >= 0) DropIfUnused(previous);
    }

    private static Segment CreateSegment(string path, bool unbuffered)
    {
        SafeFileHandle? direct;
        try
        {
            direct = unbuffered ? DirectIo.TryCreate(path) : null;
        }
        catch (IOException e)
        {
            throw new RaftJournalException($"cannot create the event body file [{path}]: {e.Message}", e);
        }
        if (direct is null) return new Segment(path, Open(path, FileMode.CreateNew));
        var reader = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new Segment(path, direct, reader);
    }

    private void Flush()
    {
        if (_buffered == 0) return;
        var segment = _segments[_current];
        if (!segment.Direct)
        {
            Write(segment, _buffer.Span[.._buffered], _bufferStart);
            _bufferStart += _buffered;
            _buffered = 0;
            return;
        }
        var padded = (_buffered + DirectIo.Alignment - 1) / DirectIo.Alignment * DirectIo.Alignment;
        _buffer.Span[_buffered..padded].Clear();
        Write(segment, _buffer.Span[..padded], _bufferStart);
        // whole blocks are done; the partial last one stays at the buffer's start, to be written again when it grows
        var whole = _buffered / DirectIo.Alignment * DirectIo.Alignment;
        _buffer.Span[whole.._buffered].CopyTo(_buffer.Span);
        _bufferStart += whole;
        _buffered -= whole;
    }

    private static void Write(Segment segment, ReadOnlySpan<byte> bytes, long offset)
    {
        var started = RaftProfile.Now;
        try
        {
            RandomAccess.Write(segment.Handle, bytes, offset);
            RaftProfile.Add(ref RaftProfile.BodyWriteTicks, started);
            // not fsynced here (the snapshot that refers to the file fsyncs it), but no pile of dirty pages either
            if (!segment.Direct) Writeback.Start(segment.Handle, offset, bytes.Length);
        }
        catch (IOException e)
        {
            throw new RaftJournalException($"cannot write the event body file [{segment.Path}]: {e.Message}", e);
        }
    }

    private void DropIfUnused(int id)
    {
        var segment = _segments[id];
        if (segment.LiveEvents > 0 || segment.SnapshotRefs > 0 || id == _current) return;
        lock (_segments) _segments.Remove(id);
        segment.Dispose();
        File.Delete(segment.Path);
    }

    /// <summary>A file; <paramref name="reader"/> is a buffered handle of its own when it is written unbuffered.</summary>
    private sealed class Segment(string path, SafeFileHandle handle, SafeFileHandle? reader = null) : IDisposable
    {
        public string Path { get; } = path;
        public SafeFileHandle Handle { get; } = handle;
        public SafeFileHandle ReadHandle { get; } = reader ?? handle;
        public bool Direct => reader is not null;
        public int LiveEvents;
        public int SnapshotRefs;             // snapshots (being written, published or not yet reclaimed) that list it
        public long Length;                  // bytes, once it is no longer appended to
        public long SyncedLength;            // bytes known to be on disk (written by FlushToDisk's thread)

        public void Dispose()
        {
            Handle.Dispose();
            if (Direct) ReadHandle.Dispose();
        }
    }
}
