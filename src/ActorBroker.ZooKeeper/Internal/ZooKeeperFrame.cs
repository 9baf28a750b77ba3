using System.Buffers;
using System.Buffers.Binary;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>
/// ZooKeeper's framing: every packet in both directions is a 4-byte big-endian length followed by that
/// many bytes of jute. Pure functions, no I/O, so they can be fuzzed directly.
/// </summary>
internal static class ZooKeeperFrame
{
    public const int LengthPrefixSize = 4;

    /// <summary>
    /// Slices the next complete frame off <paramref name="buffer"/>. Returns false (consuming nothing)
    /// when the frame is not complete yet; throws <see cref="ZooKeeperProtocolException"/> when the
    /// announced length is negative or above <paramref name="maxFrameLength"/>, because waiting for
    /// gigabytes that a corrupt prefix announced would hang the connection and exhaust memory.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameLength, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < LengthPrefixSize) return false;

        Span<byte> prefix = stackalloc byte[LengthPrefixSize];
        buffer.Slice(0, LengthPrefixSize).CopyTo(prefix);
        var length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length < 0 || length > maxFrameLength)
            throw new ZooKeeperProtocolException($"Frame length [{length}] is outside [0, {maxFrameLength}]");
        if (buffer.Length < LengthPrefixSize + (long)length) return false;

        frame = buffer.Slice(LengthPrefixSize, length);
        buffer = buffer.Slice(LengthPrefixSize + length);
        return true;
    }

    /// <summary>Writes <paramref name="payload"/> with its length prefix.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(LengthPrefixSize), payload.Length);
        output.Advance(LengthPrefixSize);
        payload.CopyTo(output.GetSpan(payload.Length));
        output.Advance(payload.Length);
    }
}
