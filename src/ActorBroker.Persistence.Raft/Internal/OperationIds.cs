using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Operation ids (the at-most-once key of a retried write): a random 64-bit prefix drawn once per process and a
/// counter. Unique across nodes and restarts like <see cref="Guid.NewGuid"/> (64 random bits per process, the counter
/// never repeats within one), but without a cryptographic random draw per journal write, which cost ~3% of the CPU of
/// a 64-writer benchmark.
/// </summary>
internal static class OperationIds
{
    private static readonly long Prefix = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(8));
    private static long _counter;

    public static Guid Next()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, Prefix);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], Interlocked.Increment(ref _counter));
        return new Guid(bytes);
    }
}
