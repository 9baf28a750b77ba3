using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>Where <see cref="EventSegments"/> keeps one event's bytes.</summary>
internal readonly record struct BodyLocation(int Segment, long Offset, int Length);

/// <summary>
/// The event bodies of a <see cref="JournalState"/>, appended to segment files on local disk instead of kept in process
/// memory: a deep backlog costs disk and evictable page cache, not heap (every replica holds the whole journal). The
/// files are a cache of what the snapshot and the Raft log hold, rebuilt at every start, so they are never fsynced and
/// whatever an earlier run left is deleted on open. Appends collect in a 1 MiB buffer written with one write call when
/// full (a round of a thousand events is a few calls, not a thousand); reads see buffered bytes. A segment file is
/// deleted once every event in it was deleted. Not thread-safe: the owner serializes access, except that a
/// <see cref="Pin"/>ned view may be read from another thread while the owner goes on appending.
/// </summary>
internal sealed class EventSegments : IDisposable
{
    private const string Extension = ".bodies";

    private readonly DirectoryInfo _directory;
    private readonly long _segmentSize;
    private readonly Dictionary<int, Segment> _segments = new();
    private readonly byte[] _buffer;
    private int _current = -1;  // segment being appended to
    private int _nextId;
    private long _length;       // bytes appended to the current segment, buffered ones included
    private long _bufferStart;  // offset in the current segment where the buffered bytes go
    private int _buffered;
    private int _pins;          // open PinnedBodies views: no file may go while one is open
    private readonly HashSet<int> _dropWhenUnpinned = [];

    /// <param name="directory">Where the segment files go; files an earlier run left there are deleted.</param>
    /// <param name="segmentSize">Size after which appends go to a new file (64 MiB; smaller in tests).</param>
    /// <param name="bufferSize">Appends collected before one write call (1 MiB; smaller in tests).</param>
    public EventSegments(DirectoryInfo directory, long segmentSize = 64L << 20, int bufferSize = 1 << 20)
    {
        _directory = directory;
        _segmentSize = segmentSize;
        _buffer = GC.AllocateUninitializedArray<byte>(bufferSize);
        directory.Create();
        foreach (var stale in directory.EnumerateFiles("*" + Extension)) stale.Delete();
    }

    /// <summary>Appends the bytes and returns where they are.</summary>
    public BodyLocation Append(ReadOnlySpan<byte> bytes)
    {
        if (_current < 0 || (_length > 0 && _length + bytes.Length > _segmentSize)) Roll();
        var location = new BodyLocation(_current, _length, bytes.Length);
        if (bytes.Length > _buffer.Length - _buffered) Flush();
        if (bytes.Length >= _buffer.Length)
        {
            Write(_segments[_current], bytes, _length); // too big to buffer: straight to the file
            _bufferStart = _length + bytes.Length;
        }
        else
        {
            bytes.CopyTo(_buffer.AsSpan(_buffered));
            _buffered += bytes.Length;
        }
        _length += bytes.Length;
        _segments[_current].LiveEvents++;
        return location;
    }

    /// <summary>A copy of the bytes at <paramref name="location"/>.</summary>
    public byte[] Read(BodyLocation location)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(location.Length);
        if (location.Segment == _current && location.Offset >= _bufferStart)
        {
            _buffer.AsSpan((int)(location.Offset - _bufferStart), location.Length).CopyTo(bytes);
            return bytes;
        }
        ReadFile(_segments[location.Segment], location, bytes);
        return bytes;
    }

    /// <summary>The event at <paramref name="location"/> was deleted; its segment file goes once it holds no live event.</summary>
    public void Release(BodyLocation location)
    {
        var segment = _segments[location.Segment];
        if (--segment.LiveEvents == 0 && location.Segment != _current) DropUnlessPinned(location.Segment);
    }

    /// <summary>
    /// A view of every body appended so far that stays readable from any thread until disposed, while appends and
    /// releases go on: buffered bytes are written out first, and files are not deleted while a view is open (a state
    /// snapshot written in the background reads its bodies through one). Dispose it with the owner's lock held.
    /// </summary>
    public PinnedBodies Pin()
    {
        Flush();
        _pins++;
        return new PinnedBodies(this, new Dictionary<int, Segment>(_segments));
    }

    private void Unpin()
    {
        if (--_pins > 0) return;
        foreach (var id in _dropWhenUnpinned)
            if (_segments.ContainsKey(id)) Drop(id);
        _dropWhenUnpinned.Clear();
    }

    /// <summary>Deletes every segment (the state is being replaced by a snapshot).</summary>
    public void Clear()
    {
        foreach (var id in _segments.Keys.ToList()) Drop(id);
        _dropWhenUnpinned.Clear();
        _current = -1;
        _length = _bufferStart = 0;
        _buffered = 0;
    }

    /// <summary>Segment files in use (for tests).</summary>
    public int Files => _segments.Count;

    public void Dispose() => Clear();

    private void Roll()
    {
        Flush();
        var previous = _current;
        var id = _nextId++;
        var path = Path.Combine(_directory.FullName, $"{id:D8}{Extension}");
        try
        {
            _segments[id] = new Segment(path, File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite));
        }
        catch (IOException e)
        {
            throw new RaftJournalException($"cannot create the event body cache file [{path}]: {e.Message}", e);
        }
        _current = id;
        _length = _bufferStart = 0;
        if (previous >= 0 && _segments[previous].LiveEvents == 0) DropUnlessPinned(previous);
    }

    private void Flush()
    {
        if (_buffered == 0) return;
        Write(_segments[_current], _buffer.AsSpan(0, _buffered), _bufferStart);
        _bufferStart += _buffered;
        _buffered = 0;
    }

    private static void Write(Segment segment, ReadOnlySpan<byte> bytes, long offset)
    {
        try
        {
            RandomAccess.Write(segment.Handle, bytes, offset);
            Writeback.Start(segment.Handle, offset, bytes.Length); // no fsync here, but no pile of dirty pages either
        }
        catch (IOException e)
        {
            throw new RaftJournalException($"cannot write the event body cache [{segment.Path}]: {e.Message}", e);
        }
    }

    private void DropUnlessPinned(int id)
    {
        if (_pins > 0) _dropWhenUnpinned.Add(id);
        else Drop(id);
    }

    private void Drop(int id)
    {
        var segment = _segments[id];
        _segments.Remove(id);
        segment.Handle.Dispose();
        File.Delete(segment.Path);
        if (id == _current)
        {
            _current = -1;
            _buffered = 0;
        }
    }

    /// <summary>Reads bodies through the files that existed when it was taken (<see cref="EventSegments.Pin"/>).</summary>
    public sealed class PinnedBodies : IDisposable
    {
        private EventSegments? _owner;
        private readonly Dictionary<int, Segment> _segments;

        internal PinnedBodies(EventSegments owner, Dictionary<int, Segment> segments) => (_owner, _segments) = (owner, segments);

        /// <summary>Copies the bytes at <paramref name="location"/> (appended before the pin) into <paramref name="destination"/>.</summary>
        public void Read(BodyLocation location, Span<byte> destination) => ReadFile(_segments[location.Segment], location, destination);

        public void Dispose()
        {
            _owner?.Unpin();
            _owner = null;
        }
    }

    private static void ReadFile(Segment segment, BodyLocation location, Span<byte> destination)
    {
        for (var done = 0; done < location.Length;)
        {
            var read = RandomAccess.Read(segment.Handle, destination.Slice(done, location.Length - done), location.Offset + done);
            if (read == 0)
                throw new RaftJournalException($"event body cache [{segment.Path}] ends at {location.Offset + done}, " +
                                               $"{location.Length - done} bytes short (was the data directory changed under a running node?)");
            done += read;
        }
    }

    internal sealed class Segment(string path, SafeFileHandle handle)
    {
        public string Path { get; } = path;
        public SafeFileHandle Handle { get; } = handle;
        public int LiveEvents;
    }
}
