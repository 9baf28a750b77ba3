using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ActorBroker.Persistence.Raft.Internal;

/// <summary>
/// Binary form of operation batches: the payload of a Raft log entry and of a forwarding request.
/// Layout: version byte, count, then per operation a kind byte, id, epoch and the kind's fields.
/// The Raft WAL checksums entries, so no checksum here.
/// </summary>
internal static class OperationCodec
{
    private const byte Version = 1;
    private const byte KindWrite = 1, KindDeleteTo = 2, KindSaveSnapshot = 3, KindDeleteSnapshots = 4, KindReadMark = 5;

    /// <summary>
    /// Encodes a batch into one exactly sized array (sizes first, then one pass over a span): a round of thousands of
    /// 1 KiB events must not grow a MemoryStream through several large-object-heap buffers and copy it once more.
    /// Same bytes as a <see cref="BinaryWriter"/> would write (little-endian, 7-bit-length-prefixed UTF-8 strings).
    /// </summary>
    public static byte[] Encode(IReadOnlyList<JournalOperation> operations)
    {
        var bytes = new byte[SizeOf(operations)];
        EncodeInto(operations, bytes);
        return bytes;
    }

    /// <summary>
    /// <see cref="Encode"/> into a buffer rented from <see cref="ArrayPool{T}.Shared"/> (the first
    /// <see cref="Encoded.Length"/> bytes): a round's payload is about a MiB and is copied into the Raft log at once,
    /// so renting it spares a large-object-heap allocation per round, which drove gen2 collections. Dispose returns it.
    /// </summary>
    public static Encoded EncodePooled(IReadOnlyList<JournalOperation> operations)
    {
        var size = SizeOf(operations);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            EncodeInto(operations, buffer.AsSpan(0, size));
            return new Encoded(buffer, size);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>An encoded batch in a rented buffer.</summary>
    public readonly struct Encoded(byte[] buffer, int length) : IDisposable
    {
        public int Length { get; } = length;
        public ReadOnlyMemory<byte> Memory => buffer.AsMemory(0, Length);
        public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
    }

    private static int SizeOf(IReadOnlyList<JournalOperation> operations)
    {
        var size = 1 + 4;
        for (var i = 0; i < operations.Count; i++) size += SizeOf(operations[i]);
        return size;
    }

    private static void EncodeInto(IReadOnlyList<JournalOperation> operations, Span<byte> bytes)
    {
        var writer = new SpanWriter(bytes);
        writer.Byte(Version);
        writer.Int32(operations.Count);
        for (var i = 0; i < operations.Count; i++) Write(ref writer, operations[i]);
        if (writer.Position != bytes.Length) throw new InvalidOperationException($"raft journal: encoded {writer.Position} bytes, sized {bytes.Length}");
    }

    /// <summary>
    /// Decodes a batch straight from the entry's bytes. Event bodies are slices of <paramref name="bytes"/>, not
    /// copies: whoever keeps them beyond the buffer's lifetime copies them (the state does, into its body files).
    /// </summary>
    public static List<JournalOperation> Decode(ReadOnlyMemory<byte> bytes)
    {
        var reader = new SpanReader(bytes.Span);
        var version = reader.Byte();
        if (version != Version)
            throw new InvalidDataException($"raft journal: unsupported operation batch version [{version}], expected [{Version}]");
        var count = reader.Int32();
        if (count < 0) throw new InvalidDataException($"raft journal: negative operation count [{count}]");
        var operations = new List<JournalOperation>(Math.Min(count, bytes.Length));
        for (var i = 0; i < count; i++) operations.Add(Read(ref reader, bytes));
        return operations;
    }

    private const int HeaderSize = 1 + 16 + 8; // kind, id, epoch

    private static int SizeOf(JournalOperation operation)
    {
        switch (operation)
        {
            case WriteEvents write:
            {
                var size = HeaderSize + SizeOf(write.PersistenceId) + 4;
                foreach (var e in write.Events) size += 8 + 4 + e.Bytes.Length;
                return size;
            }
            case DeleteEventsTo delete:
                return HeaderSize + SizeOf(delete.PersistenceId) + 8;
            case StoreSnapshot save:
                return HeaderSize + SizeOf(save.Snapshot.PersistenceId) + 8 + 8 + 4 + save.Snapshot.Bytes.Length;
            case RemoveSnapshots delete:
                return HeaderSize + SizeOf(delete.PersistenceId) + 4 * 8;
            case ReadMark:
                return HeaderSize;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.GetType().Name, "unknown journal operation");
        }
    }

    private static int SizeOf(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var prefix = 1;
        for (var v = (uint)length; v >= 0x80; v >>= 7) prefix++;
        return prefix + length;
    }

    private static void Write(ref SpanWriter writer, JournalOperation operation)
    {
        switch (operation)
        {
            case WriteEvents write:
                WriteHeader(ref writer, KindWrite, operation);
                writer.String(write.PersistenceId);
                writer.Int32(write.Events.Count);
                foreach (var e in write.Events)
                {
                    writer.Int64(e.SequenceNr);
                    writer.Bytes(e.Bytes.Span);
                }
                break;
            case DeleteEventsTo delete:
                WriteHeader(ref writer, KindDeleteTo, operation);
                writer.String(delete.PersistenceId);
                writer.Int64(delete.ToSequenceNr);
                break;
            case StoreSnapshot save:
                WriteHeader(ref writer, KindSaveSnapshot, operation);
                writer.String(save.Snapshot.PersistenceId);
                writer.Int64(save.Snapshot.SequenceNr);
                writer.Int64(save.Snapshot.TimestampTicks);
                writer.Bytes(save.Snapshot.Bytes);
                break;
            case RemoveSnapshots delete:
                WriteHeader(ref writer, KindDeleteSnapshots, operation);
                writer.String(delete.PersistenceId);
                writer.Int64(delete.MinSequenceNr);
                writer.Int64(delete.MaxSequenceNr);
                writer.Int64(delete.MinTimestampTicks);
                writer.Int64(delete.MaxTimestampTicks);
                break;
            case ReadMark:
                WriteHeader(ref writer, KindReadMark, operation);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.GetType().Name, "unknown journal operation");
        }
    }

    private static void WriteHeader(ref SpanWriter writer, byte kind, JournalOperation operation)
    {
        writer.Byte(kind);
        writer.Guid(operation.Id);
        writer.Int64(operation.Epoch);
    }

    private static JournalOperation Read(ref SpanReader reader, ReadOnlyMemory<byte> bytes)
    {
        var kind = reader.Byte();
        var id = reader.Guid();
        var epoch = reader.Int64();
        switch (kind)
        {
            case KindWrite:
            {
                var pid = reader.String();
                var count = reader.Int32();
                if (count < 0) throw new InvalidDataException($"raft journal: negative event count [{count}]");
                var events = new StoredEvent[Math.Min(count, reader.Remaining / 12)];
                if (events.Length != count) throw new EndOfStreamException($"raft journal: truncated batch, {count} events announced");
                for (var i = 0; i < count; i++)
                {
                    var sequenceNr = reader.Int64();
                    var (offset, length) = reader.Skip();
                    events[i] = new StoredEvent(sequenceNr, bytes.Slice(offset, length));
                }
                return new WriteEvents(id, epoch, pid, events);
            }
            case KindDeleteTo:
                return new DeleteEventsTo(id, epoch, reader.String(), reader.Int64());
            case KindSaveSnapshot:
                return new StoreSnapshot(id, epoch, new StoredSnapshot(reader.String(), reader.Int64(), reader.Int64(), reader.Bytes()));
            case KindDeleteSnapshots:
                return new RemoveSnapshots(id, epoch, reader.String(), reader.Int64(), reader.Int64(), reader.Int64(), reader.Int64());
            case KindReadMark:
                return new ReadMark(id);
            default:
                throw new InvalidDataException($"raft journal: unknown operation kind [{kind}]");
        }
    }

    /// <summary>Writes into a span sized beforehand; the layout of <see cref="BinaryWriter"/>.</summary>
    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        public int Position;

        public void Byte(byte value) => _buffer[Position++] = value;

        public void Int32(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer[Position..], value);
            Position += 4;
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_buffer[Position..], value);
            Position += 8;
        }

        public void Guid(Guid value)
        {
            if (!value.TryWriteBytes(_buffer[Position..])) throw new InvalidOperationException("raft journal: guid does not fit");
            Position += 16;
        }

        public void String(string text)
        {
            var length = Encoding.UTF8.GetByteCount(text);
            for (var v = (uint)length; ; v >>= 7)
            {
                if (v < 0x80) { Byte((byte)v); break; }
                Byte((byte)(v | 0x80));
            }
            Position += Encoding.UTF8.GetBytes(text, _buffer[Position..]);
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            Int32(bytes.Length);
            bytes.CopyTo(_buffer[Position..]);
            Position += bytes.Length;
        }
    }

    /// <summary>Reads the <see cref="SpanWriter"/> layout; any overrun is an <see cref="EndOfStreamException"/>.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> _buffer = buffer;
        private int _position;

        public int Remaining => _buffer.Length - _position;

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > Remaining) throw new EndOfStreamException($"raft journal: truncated batch, {count} bytes wanted, {Remaining} left");
            var span = _buffer.Slice(_position, count);
            _position += count;
            return span;
        }

        public byte Byte() => Take(1)[0];
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public Guid Guid() => new(Take(16));

        public string String()
        {
            var length = 0;
            for (var shift = 0; ; shift += 7)
            {
                if (shift > 28) throw new InvalidDataException("raft journal: bad string length prefix");
                var b = Byte();
                length |= (b & 0x7F) << shift;
                if (b < 0x80) break;
            }
            if (length < 0) throw new InvalidDataException($"raft journal: negative string length [{length}]");
            return Encoding.UTF8.GetString(Take(length));
        }

        /// <summary>Skips a length-prefixed byte string, returning where it is (offset from the start, length).</summary>
        public (int Offset, int Length) Skip()
        {
            var length = Int32();
            if (length < 0) throw new InvalidDataException($"raft journal: negative byte length [{length}]");
            var offset = _position;
            Take(length);
            return (offset, length);
        }

        public byte[] Bytes()
        {
            var length = Int32();
            if (length < 0) throw new InvalidDataException($"raft journal: negative byte length [{length}]");
            return Take(length).ToArray();
        }
    }

    internal static void WriteSnapshot(BinaryWriter writer, StoredSnapshot snapshot)
    {
        writer.Write(snapshot.PersistenceId);
        writer.Write(snapshot.SequenceNr);
        writer.Write(snapshot.TimestampTicks);
        WriteBytes(writer, snapshot.Bytes);
    }

    internal static StoredSnapshot ReadSnapshot(BinaryReader reader)
        => new(reader.ReadString(), reader.ReadInt64(), reader.ReadInt64(), ReadBytes(reader));

    internal static void WriteBytes(BinaryWriter writer, byte[] bytes)
    {
        writer.Write(bytes.Length);
        writer.Write(bytes);
    }

    internal static byte[] ReadBytes(BinaryReader reader)
    {
        var length = reader.ReadInt32();
        if (length < 0) throw new InvalidDataException($"raft journal: negative byte length [{length}]");
        var bytes = reader.ReadBytes(length);
        if (bytes.Length != length) throw new EndOfStreamException($"raft journal: truncated bytes, expected {length}, got {bytes.Length}");
        return bytes;
    }

    internal static Guid ReadGuid(BinaryReader reader)
    {
        var bytes = reader.ReadBytes(16);
        if (bytes.Length != 16) throw new EndOfStreamException($"raft journal: truncated operation id, {bytes.Length} of 16 bytes");
        return new Guid(bytes);
    }
}
