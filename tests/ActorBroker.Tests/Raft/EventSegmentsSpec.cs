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

    [Theory(DisplayName = "Bodies read back as written: buffered, flushed, bigger than the buffer, across segment files")]
    [InlineData(true)]
    [InlineData(false)]
    public void BodiesReadBack(bool unbuffered)
    {
        using var segments = new EventSegments(Directory, segmentSize: 10_000, bufferSize: 1_000, unbuffered);
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

    [Theory(DisplayName = "Bodies read back when files are written out mid-block again and again (an unbuffered file rewrites its partial last block), also after a restart")]
    [InlineData(true)]
    [InlineData(false)]
    public void BodiesReadBackAcrossPartialWrites(bool unbuffered)
    {
        var written = new List<(byte[] Body, BodyLocation At)>();
        SegmentExtent[] extents;
        using (var segments = new EventSegments(Directory, segmentSize: 100_000, bufferSize: 8_192, unbuffered))
        {
            for (var i = 0; i < 60; i++)
            {
                var body = Body(i, 37 + i * 101 % 5_000); // odd sizes: bodies straddle blocks and the buffer's end
                written.Add((body, segments.Append(body)));
                if (!unbuffered) Assert.False(segments.WritingUnbuffered);
                if (i % 7 == 0) segments.Unreference(segments.Reference().Select(e => e.Id)); // writes out a partial block
                foreach (var (b, at) in written) Assert.Equal(b, segments.Read(at));
            }
            extents = segments.Reference();
            segments.FlushToDisk(extents);
        }
        using var restarted = new EventSegments(Directory, segmentSize: 100_000, bufferSize: 8_192);
        restarted.Adopt(extents);
        foreach (var (body, at) in written)
        {
            restarted.CountLive(at);
            Assert.Equal(body, restarted.Read(at));
        }
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

    [Fact(DisplayName = "A file a snapshot references outlives the release of its events; it goes once the last reference is dropped")]
    public void ReferencedSegmentsOutliveReleases()
    {
        using var segments = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 256);
        var before = Enumerable.Range(0, 5).Select(i => (Body: Body(i, 240), At: segments.Append(Body(i, 240)))).ToList(); // last one buffered
        var extents = segments.Reference();
        Assert.Equal([new SegmentExtent(0, 960), new SegmentExtent(1, 240)], extents); // buffered bytes written out, lengths so far
        // written out through the extents (an unbuffered file is padded to whole blocks)
        Assert.True(new FileInfo(Path.Combine(_directory.Path, "00000000.bodies")).Length >= 960);
        Assert.True(new FileInfo(Path.Combine(_directory.Path, "00000001.bodies")).Length >= 240);
        foreach (var (_, at) in before) segments.Release(at);             // every event deleted while referenced
        for (var i = 0; i < 10; i++) segments.Append(Body(100 + i, 240)); // and more appended, rolling to new files
        Assert.True(File.Exists(Path.Combine(_directory.Path, "00000000.bodies")), "segment 0 must stay while a snapshot references it");
        segments.FlushToDisk(extents);
        using (var handle = EventSegments.OpenForReading(Directory, 0))
        {
            var buffer = new byte[240];
            EventSegments.ReadFile(handle, "segment 0", before[1].At, buffer);
            Assert.Equal(before[1].Body, buffer);
        }
        var filesWhileReferenced = FilesOnDisk;
        segments.Unreference(extents.Select(e => e.Id));
        Assert.Equal(filesWhileReferenced - 1, FilesOnDisk); // segment 0 went with the reference
        Assert.False(File.Exists(Path.Combine(_directory.Path, "00000000.bodies")));
        Assert.True(File.Exists(Path.Combine(_directory.Path, "00000001.bodies")), "segment 1 holds live events appended later");
    }

    [Fact(DisplayName = "After a restart the files a snapshot lists are adopted (bodies readable, others deleted, new appends in a new file); DeleteAll deletes every file")]
    public void AdoptAndDeleteAll()
    {
        SegmentExtent[] extents;
        BodyLocation kept, later;
        using (var before = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 100))
        {
            kept = before.Append(Body(1, 300));
            before.Append(Body(2, 300));
            extents = before.Reference();
            later = before.Append(Body(3, 800)); // after the snapshot: a file of its own, which the log would rebuild
            Assert.Equal(2, FilesOnDisk);
        }

        using (var after = new EventSegments(Directory, segmentSize: 1_000, bufferSize: 100))
        {
            after.Adopt(extents);
            Assert.Equal(1, FilesOnDisk);
            after.CountLive(kept);
            Assert.Equal(Body(1, 300), after.Read(kept));
            var appended = after.Append(Body(4, 10));
            Assert.NotEqual(kept.Segment, appended.Segment);
            Assert.NotEqual(later.Segment, appended.Segment); // never the name of a file an earlier run had
            Assert.Equal(Body(4, 10), after.Read(appended));
            after.DeleteAll();
            Assert.Equal(0, FilesOnDisk);
        }

        using var damaged = new EventSegments(Directory);
        var error = Assert.Throws<ActorBroker.Persistence.Raft.RaftJournalException>(() => damaged.Adopt(extents));
        Assert.Contains("missing", error.Message);
    }
}
