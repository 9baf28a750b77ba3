using System.Runtime.InteropServices;
using ActorBroker.Persistence.Raft.Internal;
using ActorBroker.Testing;
using Xunit;

namespace ActorBroker.Tests.Raft;

/// <summary>Unbuffered (O_DIRECT) files for the event bodies: really unbuffered where supported, nothing created where not.</summary>
public sealed class DirectIoSpec : IDisposable
{
    private readonly TempDirectory _directory = new("direct-io-spec");

    public void Dispose() => _directory.Dispose();

    [Fact(DisplayName = "Aligned buffers start on a 4 KiB boundary and are whole blocks long")]
    public void AlignedBuffers()
    {
        foreach (var size in new[] { 1, 4_096, 5_000, 1 << 20 })
        {
            var buffer = DirectIo.AlignedBuffer(size);
            Assert.True(buffer.Length >= size && buffer.Length % DirectIo.Alignment == 0);
            Assert.True(MemoryMarshal.TryGetArray<byte>(buffer, out var segment));
            Assert.Equal(0, Marshal.UnsafeAddrOfPinnedArrayElement(segment.Array!, segment.Offset) % DirectIo.Alignment);
        }
    }

    [Fact(DisplayName = "A file created unbuffered takes aligned writes and refuses unaligned ones; where unsupported nothing is created")]
    public void UnbufferedOrNothing()
    {
        var path = _directory.Combine("probe.bodies");
        using var handle = DirectIo.TryCreate(path);
        if (handle is null)
        {
            Assert.False(File.Exists(path)); // the caller falls back to a buffered file of the same name
            return;
        }
        var aligned = DirectIo.AlignedBuffer(DirectIo.Alignment);
        aligned.Span.Fill(7);
        RandomAccess.Write(handle, aligned.Span, 0);
        Assert.Equal(DirectIo.Alignment, new FileInfo(path).Length);
        // the kernel refuses an unaligned length with O_DIRECT: proof the file is not going through the page cache
        Assert.ThrowsAny<IOException>(() => RandomAccess.Write(handle, aligned.Span[..100], DirectIo.Alignment));
        Assert.Equal(aligned.ToArray(), File.ReadAllBytes(path));
    }
}
