namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>Where <see cref="EventSlabs"/> keeps one event's bytes.</summary>
internal readonly record struct SlabLocation(int Slab, int Offset, int Length);

/// <summary>
/// The event bodies of a <see cref="JournalState"/>, packed into 1 MiB arrays instead of one array per event. Every
/// replica keeps the whole journal in memory; as one small array per event, each body was copied from generation 0
/// to 1 to 2 by the collector and marked on every full collection, and with three replicas in one benchmark process
/// that was most of the CPU. A slab lives in the large object heap (never copied) and is dropped once every event in
/// it was deleted. Not thread-safe: the owner serializes access.
/// </summary>
internal sealed class EventSlabs
{
    private const int SlabSize = 1 << 20;
    private const int SpareSlabs = 4; // emptied slabs kept for reuse instead of a new large-object allocation

    private readonly List<byte[]?> _slabs = [];
    private readonly List<int> _liveEvents = [];
    private readonly Stack<byte[]> _spare = new();
    private readonly Stack<int> _freeSlots = new(); // indexes of dropped slabs, so the lists stay as long as the live ones
    private int _current = -1; // slab being filled
    private int _used;         // bytes used in it

    /// <summary>Copies the bytes into a slab and returns where they are.</summary>
    public SlabLocation Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > SlabSize)
        {
            // an event bigger than a slab gets an array of its own, never appended to
            var own = NewSlot(bytes.ToArray());
            _liveEvents[own] = 1;
            return new SlabLocation(own, 0, bytes.Length);
        }

        if (_current < 0 || SlabSize - _used < bytes.Length)
        {
            var slab = _spare.TryPop(out var reused) ? reused : GC.AllocateUninitializedArray<byte>(SlabSize);
            var previous = _current;
            _current = NewSlot(slab);
            _used = 0;
            if (previous >= 0 && _liveEvents[previous] == 0) Drop(previous);
        }

        bytes.CopyTo(_slabs[_current].AsSpan(_used));
        var location = new SlabLocation(_current, _used, bytes.Length);
        _used += bytes.Length;
        _liveEvents[_current]++;
        return location;
    }

    public ReadOnlySpan<byte> Read(SlabLocation location)
        => _slabs[location.Slab].AsSpan(location.Offset, location.Length);

    /// <summary>The event at <paramref name="location"/> was deleted; its slab goes once it holds no live event.</summary>
    public void Release(SlabLocation location)
    {
        if (--_liveEvents[location.Slab] == 0 && location.Slab != _current) Drop(location.Slab);
    }

    public void Clear()
    {
        _slabs.Clear();
        _liveEvents.Clear();
        _freeSlots.Clear();
        _current = -1;
        _used = 0;
    }

    private int NewSlot(byte[] slab)
    {
        if (_freeSlots.TryPop(out var free))
        {
            _slabs[free] = slab;
            _liveEvents[free] = 0;
            return free;
        }
        _slabs.Add(slab);
        _liveEvents.Add(0);
        return _slabs.Count - 1;
    }

    private void Drop(int slab)
    {
        if (_slabs[slab] is { Length: SlabSize } reusable && _spare.Count < SpareSlabs) _spare.Push(reusable);
        _slabs[slab] = null;
        _freeSlots.Push(slab);
    }
}
