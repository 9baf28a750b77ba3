using System.Buffers.Binary;
using System.Numerics;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>
/// CRC32C (Castagnoli) over a span. <see cref="BitOperations.Crc32C(uint, ulong)"/> uses the SSE4.2 / ARMv8
/// instruction when present and a table otherwise, so no extra package is needed for a hardware checksum.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data) crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }
}
