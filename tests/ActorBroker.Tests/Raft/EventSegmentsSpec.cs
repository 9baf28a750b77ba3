using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>The Raft state's event-body cache on disk: every body reads back as written, files go when their events do.</summary>
public sealed class EventSegmentsSpec : IDisposable
{
    private readonly TempDirectory _directory = new("event-segments-spec");

    private DirectoryInfo Directory => new(_directory.Path);

    private static byte[] Body(int seed, int length) => Enumerable.Range(0, length).Select(i => (byte)(seed * 31 + i)).ToArray();

    private int FilesOnDisk => Directory.GetFiles("*.bodies").Length;

    public void Dispose() => _directory.Dispose();

    [Fact(DisplayName = "Bodies read back as written: buffered, flushed, bigger than the buffer, across segment files")]
    public void BodiesReadBack()
    {
        using var segments = new EventSegments(Directory, segmentSize: 10_000, bufferSize: 1_000);
        var lengths = new[] { 0, 1, 999, 1_000, 3_500, 7, 10_000, 12_345, 500, 500, 500 };
        var written = lengths.Select((length, i) => (Body: Body(i, length), At: default(BodyLocation))).ToArray();
        for (var i = 0; i < written.Length; i++)
        {
            written[i].At = segments.Append(written[i].Body);
            // every body written so far reads back, whether still buffered or already in a file
            for (var j = 0; j <= i; j++) Assert.Equal(written[j].Body, segments.Read(written[j].At));
        }
        Assert.True(segments.Files > 1, "10 KB segments should have rolled over");
        Assert.Equal(segments.Files, FilesOnDisk);
    }

    [Fact(DisplayName = "A segment file is deleted once every event in it was released, never the one being appended to")]
    public void ReleasedSegmentsAreDeleted()
    {
        using var segments = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 256);
        var first = Enumerable.Range(0, 4).Select(i => segments.Append(Body(i, 250))).ToList(); // fills segment 0
        var next = segments.Append(Body(9, 250)); // rolls to segment 1
        Assert.Equal(2, FilesOnDisk);
        foreach (var at in first.Take(3)) segments.Release(at);
        Assert.Equal(2, FilesOnDisk); // one live event keeps segment 0
        segments.Release(first[3]);
        Assert.Equal(1, FilesOnDisk);
        segments.Release(next); // the current segment stays while it is appended to
        Assert.Equal(1, FilesOnDisk);
        Assert.Equal(Body(7, 10), segments.Read(segments.Append(Body(7, 10))));
    }

    [Fact(DisplayName = "A pinned view reads its bodies, buffered ones included, while appends and releases go on; released files go when it is disposed")]
    public void PinnedViewOutlivesReleases()
    {
        using var segments = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 256);
        var before = Enumerable.Range(0, 5).Select(i => (Body: Body(i, 240), At: segments.Append(Body(i, 240)))).ToList(); // last one buffered
        var pinned = segments.Pin();
        var buffer = new byte[240];
        foreach (var (_, at) in before) segments.Release(at);      // every event of segment 0 deleted while pinned
        for (var i = 0; i < 10; i++) segments.Append(Body(100 + i, 240)); // and more appended, rolling to new files
        Assert.True(FilesOnDisk >= 3, "segment 0 must stay while a view is pinned");
        foreach (var (body, at) in before)
        {
            pinned.Read(at, buffer);
            Assert.Equal(body, buffer);
        }
        var filesWhilePinned = FilesOnDisk;
        pinned.Dispose();
        Assert.Equal(filesWhilePinned - 1, FilesOnDisk); // segment 0 went with the view
    }

    [Fact(DisplayName = "Files an earlier run left are deleted on open (the cache is rebuilt from snapshot and log), and Clear deletes every file")]
    public void StaleFilesAndClear()
    {
        File.WriteAllBytes(Path.Combine(_directory.Path, "00000000.bodies"), new byte[100]);
        using var segments = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 100);
        Assert.Equal(0, FilesOnDisk);
        for (var i = 0; i < 10; i++) segments.Append(Body(i, 300));
        Assert.True(FilesOnDisk > 1);
        segments.Clear();
        Assert.Equal(0, FilesOnDisk);
        var at = segments.Append(Body(1, 5));
        Assert.Equal(Body(1, 5), segments.Read(at));
    }
}
