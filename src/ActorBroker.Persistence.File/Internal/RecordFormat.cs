using System.Buffers.Binary;
using System.Text;

namespace ActorBroker.Persistence.File.Internal;

/// <summary>Kinds of journal records; the byte after the version byte. See docs/journal-format.md.</summary>
internal enum RecordKind : byte
{
    /// <summary>One AtomicWrite: one persistence id, one or more consecutive events.</summary>
    Events = 1,

    /// <summary>DeleteMessagesTo: events up to a sequence number are gone; also carries the highest sequence number.</summary>
    Tombstone = 2,
}

/// <summary>
/// One serialized event inside an <see cref="RecordKind.Events"/> record, as the journal stores it.
/// </summary>
internal readonly record struct StoredEvent(
    long SequenceNr, long Timestamp, int SerializerId, string SerializerManifest, string AdapterManifest,
    ReadOnlyMemory<byte> Payload);

/// <summary>
/// The on-disk frame: <c>u32 length | u32 crc32c | u8 version | u8 kind | i64 epoch | body</c>, little endian;
/// length and checksum cover everything from the version byte on. A frame whose length runs past the end of the
/// file or whose checksum does not match is a torn or corrupt tail: never data.
/// </summary>
internal static class RecordFormat
{
    public const byte Version = 1;
    public const int PrefixSize = 8;                   // length + crc
    public const int HeaderSize = PrefixSize + 1 + 1 + 8; // + version + kind + epoch
    public const int MaxRecordLength = 256 * 1024 * 1024;

    /// <summary>Appends an Events record; returns, per event, its offset (relative to the record) and length.</summary>
    public static void WriteEvents(
        GrowableBuffer buffer, long epoch, string persistenceId, string writerUuid, IReadOnlyList<StoredEvent> events,
        List<(int Offset, int Length)> eventSlices)
    {
        var start = buffer.Length;
        buffer.Advance(PrefixSize);
        buffer.WriteByte(Version);
        buffer.WriteByte((byte)RecordKind.Events);
        buffer.WriteInt64(epoch);
        buffer.WriteString16(persistenceId);
        buffer.WriteString16(writerUuid);
        buffer.WriteInt32(events.Count);
        foreach (var e in events)
        {
            var eventStart = buffer.Length;
            buffer.WriteInt64(e.SequenceNr);
            buffer.WriteInt64(e.Timestamp);
            buffer.WriteInt32(e.SerializerId);
            buffer.WriteString16(e.SerializerManifest);
            buffer.WriteString16(e.AdapterManifest);
            buffer.WriteInt32(e.Payload.Length);
            buffer.Write(e.Payload.Span);
            eventSlices.Add((eventStart - start, buffer.Length - eventStart));
        }
        Seal(buffer, start);
    }

    public static void WriteTombstone(GrowableBuffer buffer, long epoch, string persistenceId, long deletedTo, long highestSequenceNr)
    {
        var start = buffer.Length;
        buffer.Advance(PrefixSize);
        buffer.WriteByte(Version);
        buffer.WriteByte((byte)RecordKind.Tombstone);
        buffer.WriteInt64(epoch);
        buffer.WriteString16(persistenceId);
        buffer.WriteInt64(deletedTo);
        buffer.WriteInt64(highestSequenceNr);
        Seal(buffer, start);
    }

    private static void Seal(GrowableBuffer buffer, int start)
    {
        var span = buffer.WrittenSpan[start..];
        var checkedPart = span[PrefixSize..];
        BinaryPrimitives.WriteInt32LittleEndian(span, checkedPart.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32C.Compute(checkedPart));
    }

    /// <summary>
    /// Reads the frame length at the start of <paramref name="prefix"/> (8 bytes); false when it is implausible.
    /// </summary>
    public static bool TryReadLength(ReadOnlySpan<byte> prefix, out int length, out uint crc)
    {
        length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        crc = BinaryPrimitives.ReadUInt32LittleEndian(prefix[4..]);
        return length is >= HeaderSize - PrefixSize and <= MaxRecordLength;
    }

    /// <summary>Checks version and checksum of a frame body (everything after the 8-byte prefix).</summary>
    public static bool IsIntact(ReadOnlySpan<byte> body, uint crc) =>
        body.Length >= 10 && body[0] == Version && Crc32C.Compute(body) == crc;

    public static RecordKind KindOf(ReadOnlySpan<byte> body) => (RecordKind)body[1];
    public static long EpochOf(ReadOnlySpan<byte> body) => BinaryPrimitives.ReadInt64LittleEndian(body[2..]);

    /// <summary>Parses an intact Events body; offsets reported are relative to the start of the frame.</summary>
    public static (string PersistenceId, string WriterUuid, List<(long SequenceNr, int Offset, int Length)> Events) ReadEvents(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body, 10);
        var pid = reader.ReadString16();
        var writer = reader.ReadString16();
        var count = reader.ReadInt32();
        var events = new List<(long, int, int)>(count);
        for (var i = 0; i < count; i++)
        {
            var eventStart = reader.Position;
            var seq = reader.ReadInt64();
            reader.Skip(8 + 4);
            reader.SkipString16();
            reader.SkipString16();
            reader.Skip(reader.ReadInt32());
            events.Add((seq, PrefixSize + eventStart, reader.Position - eventStart));
        }
        return (pid, writer, events);
    }

    public static (string PersistenceId, long DeletedTo, long HighestSequenceNr) ReadTombstone(ReadOnlySpan<byte> body)
    {
        var reader = new SpanReader(body, 10);
        return (reader.ReadString16(), reader.ReadInt64(), reader.ReadInt64());
    }

    /// <summary>Decodes one event slice (as located by <see cref="ReadEvents"/>).</summary>
    public static StoredEvent ReadEvent(ReadOnlySpan<byte> slice)
    {
        var reader = new SpanReader(slice, 0);
        var seq = reader.ReadInt64();
        var timestamp = reader.ReadInt64();
        var serializerId = reader.ReadInt32();
        var serializerManifest = reader.ReadString16();
        var adapterManifest = reader.ReadString16();
        var payload = reader.ReadBytes(reader.ReadInt32());
        return new StoredEvent(seq, timestamp, serializerId, serializerManifest, adapterManifest, payload);
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span, int position)
    {
        private readonly ReadOnlySpan<byte> _span = span;
        public int Position { get; private set; } = position;

        public long ReadInt64() { var v = BinaryPrimitives.ReadInt64LittleEndian(_span[Position..]); Position += 8; return v; }
        public int ReadInt32() { var v = BinaryPrimitives.ReadInt32LittleEndian(_span[Position..]); Position += 4; return v; }
        public void Skip(int count) => Position += count;
        public void SkipString16() => Position += 2 + BinaryPrimitives.ReadUInt16LittleEndian(_span[Position..]);

        public string ReadString16()
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(_span[Position..]);
            var s = Encoding.UTF8.GetString(_span.Slice(Position + 2, length));
            Position += 2 + length;
            return s;
        }

        public byte[] ReadBytes(int count) { var b = _span.Slice(Position, count).ToArray(); Position += count; return b; }
    }
}

/// <summary>A reusable append buffer for building one group-commit batch.</summary>
internal sealed class GrowableBuffer(int initialCapacity = 64 * 1024)
{
    private byte[] _buffer = new byte[initialCapacity];

    public int Length { get; private set; }
    public Span<byte> WrittenSpan => _buffer.AsSpan(0, Length);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Length);

    public void Clear() => Length = 0;

    public void Advance(int count) { Ensure(count); Length += count; }
    public void WriteByte(byte value) { Ensure(1); _buffer[Length++] = value; }
    public void WriteInt32(int value) { Ensure(4); BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(Length), value); Length += 4; }
    public void WriteInt64(long value) { Ensure(8); BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(Length), value); Length += 8; }
    public void Write(ReadOnlySpan<byte> bytes) { Ensure(bytes.Length); bytes.CopyTo(_buffer.AsSpan(Length)); Length += bytes.Length; }

    public void WriteString16(string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > ushort.MaxValue)
            throw new ArgumentException($"String of [{byteCount}] UTF-8 bytes exceeds the journal's 65535-byte limit for ids and manifests");
        Ensure(2 + byteCount);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(Length), (ushort)byteCount);
        Length += 2 + Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length + 2));
    }

    private void Ensure(int extra)
    {
        if (Length + extra <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + extra));
    }
}
