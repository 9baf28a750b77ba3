using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ActorBroker.ZooKeeper;
using ActorBroker.ZooKeeper.Internal;
using Xunit;

namespace ActorBroker.Tests.ZooKeeper;

/// <summary>Framing and jute decoding: round trips, partial input, and corrupt bytes that must fail typed, never hang.</summary>
public sealed class ZooKeeperFrameCodecSpec
{
    private const int MaxFrame = 64 * 1024;

    [Fact(DisplayName = "Jute primitives and a framed packet round-trip")]
    public void RoundTrip()
    {
        var frame = Frame(w =>
        {
            w.WriteInt(-7);
            w.WriteLong(long.MaxValue);
            w.WriteBool(true);
            w.WriteString("/zné");
            w.WriteString(null);
            w.WriteBuffer([1, 2, 3]);
            w.WriteStringVector(["a", "bc"]);
        });

        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(ZooKeeperFrame.TryReadFrame(ref buffer, MaxFrame, out var payload));
        Assert.True(buffer.IsEmpty);
        var reader = new JuteReader(payload);
        Assert.Equal(-7, reader.ReadInt());
        Assert.Equal(long.MaxValue, reader.ReadLong());
        Assert.True(reader.ReadBool());
        Assert.Equal("/zné", reader.ReadString());
        Assert.Null(reader.ReadString());
        Assert.Equal([1, 2, 3], reader.ReadBuffer());
        Assert.Equal(["a", "bc"], reader.ReadStringVector());
        Assert.Equal(0, reader.Remaining);
    }

    [Fact(DisplayName = "An incomplete frame consumes nothing, even split across segments")]
    public void PartialFrame()
    {
        var frame = Frame(w => w.WriteString("/partial"));
        for (var cut = 0; cut < frame.Length; cut++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, cut);
            Assert.False(ZooKeeperFrame.TryReadFrame(ref buffer, MaxFrame, out _));
            Assert.Equal(cut, buffer.Length);
        }
        var split = Segments(frame, 3);
        Assert.True(ZooKeeperFrame.TryReadFrame(ref split, MaxFrame, out var payload));
        var reader = new JuteReader(payload);
        Assert.Equal("/partial", reader.ReadString());
    }

    [Theory(DisplayName = "A negative or absurd frame length is rejected instead of awaited")]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(MaxFrame + 1)]
    [InlineData(int.MaxValue)]
    public void AbsurdLength(int length)
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, length);
        var buffer = new ReadOnlySequence<byte>(prefix);
        Assert.Throws<ZooKeeperProtocolException>(() => ZooKeeperFrame.TryReadFrame(ref buffer, MaxFrame, out _));
    }

    [Fact(DisplayName = "Corrupted reply bytes decode or fail with ZooKeeperProtocolException, nothing else")]
    public void FuzzedReplies()
    {
        var valid = Frame(w =>
        {
            w.WriteInt(5); w.WriteLong(99); w.WriteInt(0); // reply header
            w.WriteBuffer("payload"u8);                        // GetDataResponse.data
            for (var i = 0; i < 4; i++) w.WriteLong(i);        // stat: czxid, mzxid, ctime, mtime
            for (var i = 0; i < 3; i++) w.WriteInt(i);         // version, cversion, aversion
            w.WriteLong(1); w.WriteInt(7); w.WriteInt(0); w.WriteLong(3);
            w.WriteStringVector(["x", "y"]);
        });
        var random = new Random(20261125);
        var outcomes = new Dictionary<string, int>();
        for (var round = 0; round < 20_000; round++)
        {
            var corrupt = (byte[])valid.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            var length = random.Next(4) == 0 ? random.Next(corrupt.Length) : corrupt.Length;
            var outcome = Decode(Segments(corrupt.AsSpan(0, length).ToArray(), random.Next(1, 8)));
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        // Every outcome occurs (the corruption really reaches the decoder), and no other exception type ever escapes.
        Assert.Equal(
            new[] { "decoded", "incomplete", nameof(ZooKeeperProtocolException) }.Order(StringComparer.Ordinal),
            outcomes.Keys.Order(StringComparer.Ordinal));
    }

    [Fact(DisplayName = "A server answering the handshake with garbage fails the connect with a typed error, without hanging")]
    public async Task GarbageServer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            while (true)
            {
                using var socket = await listener.AcceptSocketAsync();
                await socket.SendAsync(new byte[] { 0x7f, 0xff, 0xff, 0xff, 1, 2, 3 });
                await Task.Delay(100);
            }
        });

        var options = new ZooKeeperClientOptions($"127.0.0.1:{port}", TimeSpan.FromSeconds(2)) { ConnectTimeout = TimeSpan.FromSeconds(3) };
        var failure = await Assert.ThrowsAnyAsync<ZooKeeperException>(() => ZooKeeperClient.ConnectAsync(options).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(ZooKeeperErrorCode.ConnectionLoss, failure.Code);
        listener.Stop();
        await Assert.ThrowsAnyAsync<Exception>(() => serve);
    }

    private static string Decode(ReadOnlySequence<byte> buffer)
    {
        try
        {
            if (!ZooKeeperFrame.TryReadFrame(ref buffer, MaxFrame, out var payload)) return "incomplete";
            var reader = new JuteReader(payload);
            ReplyHeader.Read(ref reader);
            reader.ReadBuffer();
            ZNodeStat.Read(ref reader);
            reader.ReadStringVector();
            return "decoded";
        }
        catch (ZooKeeperProtocolException)
        {
            return nameof(ZooKeeperProtocolException);
        }
    }

    private static byte[] Frame(Action<JuteWriter> write)
    {
        var payload = new ArrayBufferWriter<byte>();
        write(new JuteWriter(payload));
        var framed = new ArrayBufferWriter<byte>();
        ZooKeeperFrame.WriteFrame(framed, payload.WrittenSpan);
        return framed.WrittenSpan.ToArray();
    }

    /// <summary>The bytes as a multi-segment sequence, like a pipe delivers them.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] bytes, int segmentSize)
    {
        if (bytes.Length == 0) return ReadOnlySequence<byte>.Empty;
        Segment? first = null, last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentSize)
        {
            var chunk = bytes.AsMemory(offset, Math.Min(segmentSize, bytes.Length - offset));
            last = first is null ? first = new Segment(chunk, 0) : last!.Append(chunk);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
