using Microsoft.Win32.SafeHandles;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>One segment file: its identity, open handle, the length that is valid history, and what lives in it.</summary>
internal sealed class Segment(string name, long epoch, long number, SafeFileHandle handle, long length)
{
    public string Name { get; } = name;
    public long Epoch { get; } = epoch;
    public long Number { get; } = number;
    public SafeFileHandle Handle { get; } = handle;

    /// <summary>Bytes of intact records; the next append goes here.</summary>
    public long Length { get; set; } = length;

    /// <summary>Events in this segment not yet deleted; at 0 (and not active) the segment can go.</summary>
    public int LiveEvents { get; set; }

    /// <summary>Persistence ids with any record here, to carry their tombstones forward before removal.</summary>
    public HashSet<string> PersistenceIds { get; } = new(StringComparer.Ordinal);

    public static string FileNameOf(long epoch, long number) => $"seg-{epoch:D20}-{number:D10}.log";

    public static bool TryParse(string fileName, out long epoch, out long number)
    {
        epoch = number = 0;
        var parts = Path.GetFileNameWithoutExtension(fileName).Split('-');
        return parts.Length == 3 && parts[0] == "seg" && fileName.EndsWith(".log", StringComparison.Ordinal) &&
               long.TryParse(parts[1], out epoch) && long.TryParse(parts[2], out number);
    }
}

/// <summary>Where one event lives on disk.</summary>
internal readonly record struct EventLocation(long SequenceNr, Segment Segment, long Offset, int Length, string WriterUuid);

/// <summary>The in-memory index of one persistence id.</summary>
internal sealed class PersistenceIdIndex
{
    /// <summary>Live events, ascending by sequence number.</summary>
    public List<EventLocation> Events { get; } = [];

    /// <summary>Highest sequence number ever written, deleted or not (the journal contract keeps it after deletes).</summary>
    public long HighestSequenceNr { get; set; }

    public long DeletedTo { get; set; }

    /// <summary>Segment holding the newest tombstone record for this id, if any.</summary>
    public Segment? TombstoneSegment { get; set; }

    public void AddEvent(EventLocation location)
    {
        if (location.SequenceNr <= DeletedTo) return;
        // A later record for an existing sequence number is a newer history (only a new epoch rewrites): it wins.
        while (Events.Count > 0 && Events[^1].SequenceNr >= location.SequenceNr)
        {
            Events[^1].Segment.LiveEvents--;
            Events.RemoveAt(Events.Count - 1);
        }
        Events.Add(location);
        location.Segment.LiveEvents++;
        HighestSequenceNr = Math.Max(HighestSequenceNr, location.SequenceNr);
    }

    public void ApplyTombstone(long deletedTo, long highestSequenceNr, Segment segment)
    {
        DeletedTo = Math.Max(DeletedTo, deletedTo);
        HighestSequenceNr = Math.Max(HighestSequenceNr, highestSequenceNr);
        TombstoneSegment = segment;
        var removed = 0;
        while (removed < Events.Count && Events[removed].SequenceNr <= DeletedTo)
            Events[removed++].Segment.LiveEvents--;
        Events.RemoveRange(0, removed);
    }

    /// <summary>True when removing <paramref name="segment"/> would lose this id's deletion mark or highest sequence number.</summary>
    public bool NeedsTombstoneCarriedFrom(Segment segment) =>
        TombstoneSegment == segment || Events.Count == 0 || Events[^1].SequenceNr < HighestSequenceNr;
}
