using System.Diagnostics;
using ActorBroker.Persistence.File.Internal;

namespace ActorBroker.JournalBench;

/// <summary>
/// The file journal's writer without Akka on top: <c>writers</c> tasks each keep one AtomicWrite of
/// <c>batch</c> 1 KiB events in flight. Separates the cost of the storage engine from Akka.Persistence's own.
/// </summary>
public static class RawFileJournal
{
    public static async Task<(double EventsPerSecond, long Commits)> RunAsync(string directory, int writers, int totalEvents, int batch)
    {
        Directory.CreateDirectory(directory);
        var log = new SegmentLog(directory, fsync: true, 64 << 20, _ => { });
        var writer = new GroupCommitWriter(log, () => 0, 4 << 20, 100_000, _ => { });
        await using (writer)
        {
            var payload = new byte[1024];
            var perWriter = totalEvents / writers / batch;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                long seq = 0;
                for (var i = 0; i < perWriter; i++)
                {
                    var events = Enumerable.Range(0, batch).Select(_ => new StoredEvent(++seq, 0, 4, "", "", payload)).ToList();
                    await writer.Enqueue(new AppendRequest([new PreparedWrite($"raw-{w}", "w", events)]));
                }
            })));
            return (perWriter * batch * writers / clock.Elapsed.TotalSeconds, writer.Commits);
        }
    }
}
