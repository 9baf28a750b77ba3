using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace ActorBroker.JournalBench;

/// <summary>
/// What this process allocates, by type: the runtime's allocation-tick events (one per ~100 KB allocated) summed per type
/// name from creation on. For --alloc-profile; a sample, not an exact count.
/// </summary>
sealed class AllocationListener : EventListener
{
    public readonly ConcurrentDictionary<string, long> Bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick") || e.Payload is null) return;
        var name = e.PayloadNames!.IndexOf("TypeName") is var i and >= 0 ? e.Payload[i] as string ?? "?" : "?";
        var amount = e.PayloadNames!.IndexOf("AllocationAmount64") is var j and >= 0 ? Convert.ToInt64(e.Payload[j]) : 100_000;
        Bytes.AddOrUpdate(name, amount, (_, v) => v + amount);
    }

    public string Report(long events) => string.Join("\n", Bytes.OrderByDescending(p => p.Value).Take(25)
        .Select(p => $"    {p.Value / (double)events,8:N0} B/event  {p.Key}"));
}
