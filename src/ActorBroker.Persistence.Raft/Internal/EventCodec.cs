using System.Buffers.Binary;
using System.Text;
using Akka.Actor;
using Akka.Persistence;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// The stored form of one event: the payload serialized by its own Akka serializer plus the fields replay needs
/// (timestamp, serializer id and manifest, event-adapter manifest, writer guid), like the file journal stores them.
/// Wrapping the event in Akka's protobuf <c>Persistent</c> message instead cost two extra copies of every body and a
/// protobuf pass per event on the write path, and an actor-path lookup per event on replay.
/// Layout: magic 0xFF 0x01, int64 timestamp, int32 serializer id, three 7-bit-length-prefixed UTF-8 strings
/// (serializer manifest, adapter manifest, writer guid), then the payload bytes to the end. The magic can never
/// start a protobuf message (0xFF 0x01 is field 31 with the invalid wire type 7), so events stored in the older form
/// (Akka's <c>Persistent</c> serializer; still used for tagged payloads) are told apart and replay unchanged.
/// </summary>
internal static class EventCodec
{
    private const byte Magic0 = 0xFF, Magic1 = 0x01;

    public static bool IsCompact(byte[] stored) => stored.Length >= 2 && stored[0] == Magic0 && stored[1] == Magic1;

    public static byte[] Encode(long timestamp, int serializerId, string serializerManifest, string adapterManifest,
        string writerGuid, byte[] payload)
    {
        var size = 2 + 8 + 4 + SizeOf(serializerManifest) + SizeOf(adapterManifest) + SizeOf(writerGuid) + payload.Length;
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        span[0] = Magic0;
        span[1] = Magic1;
        BinaryPrimitives.WriteInt64LittleEndian(span[2..], timestamp);
        BinaryPrimitives.WriteInt32LittleEndian(span[10..], serializerId);
        var position = 14;
        position += WriteString(span[position..], serializerManifest);
        position += WriteString(span[position..], adapterManifest);
        position += WriteString(span[position..], writerGuid);
        payload.CopyTo(span[position..]);
        return bytes;
    }

    /// <summary>Rebuilds the <see cref="Persistent"/> of a compact stored event (see <see cref="IsCompact"/>).</summary>
    public static Persistent Decode(byte[] stored, string persistenceId, long sequenceNr, Akka.Serialization.Serialization serialization)
    {
        ReadOnlySpan<byte> span = stored;
        var timestamp = BinaryPrimitives.ReadInt64LittleEndian(span[2..]);
        var serializerId = BinaryPrimitives.ReadInt32LittleEndian(span[10..]);
        var position = 14;
        var serializerManifest = ReadString(span, ref position);
        var adapterManifest = ReadString(span, ref position);
        var writerGuid = ReadString(span, ref position);
        var payload = serialization.Deserialize(span[position..].ToArray(), serializerId, serializerManifest);
        return new Persistent(payload, sequenceNr, persistenceId, adapterManifest, false, ActorRefs.NoSender, writerGuid, timestamp);
    }

    private static int SizeOf(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var prefix = 1;
        for (var v = (uint)length; v >= 0x80; v >>= 7) prefix++;
        return prefix + length;
    }

    private static int WriteString(Span<byte> span, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var position = 0;
        for (var v = (uint)length; ; v >>= 7)
        {
            if (v < 0x80) { span[position++] = (byte)v; break; }
            span[position++] = (byte)(v | 0x80);
        }
        return position + Encoding.UTF8.GetBytes(text, span[position..]);
    }

    private static string ReadString(ReadOnlySpan<byte> span, ref int position)
    {
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 28) throw new InvalidDataException("raft journal: bad string length prefix in a stored event");
            var b = span[position++];
            length |= (b & 0x7F) << shift;
            if (b < 0x80) break;
        }
        var text = Encoding.UTF8.GetString(span.Slice(position, length));
        position += length;
        return text;
    }
}
