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
    private const byte KindWrite = 1, KindDeleteTo = 2, KindSaveSnapshot = 3, KindDeleteSnapshots = 4;

    public static byte[] Encode(IReadOnlyList<JournalOperation> operations)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Version);
            writer.Write(operations.Count);
            foreach (var operation in operations) Write(writer, operation);
        }
        return stream.ToArray();
    }

    public static List<JournalOperation> Decode(ReadOnlySpan<byte> bytes)
    {
        using var stream = new MemoryStream(bytes.ToArray(), writable: false);
        using var reader = new BinaryReader(stream, Encoding.UTF8);
        var version = reader.ReadByte();
        if (version != Version)
            throw new InvalidDataException($"raft journal: unsupported operation batch version [{version}], expected [{Version}]");
        var count = reader.ReadInt32();
        var operations = new List<JournalOperation>(count);
        for (var i = 0; i < count; i++) operations.Add(Read(reader));
        return operations;
    }

    private static void Write(BinaryWriter writer, JournalOperation operation)
    {
        switch (operation)
        {
            case WriteEvents write:
                writer.Write(KindWrite);
                WriteHeader(writer, operation);
                writer.Write(write.PersistenceId);
                writer.Write(write.Events.Count);
                foreach (var e in write.Events)
                {
                    writer.Write(e.SequenceNr);
                    WriteBytes(writer, e.Bytes);
                }
                break;
            case DeleteEventsTo delete:
                writer.Write(KindDeleteTo);
                WriteHeader(writer, operation);
                writer.Write(delete.PersistenceId);
                writer.Write(delete.ToSequenceNr);
                break;
            case StoreSnapshot save:
                writer.Write(KindSaveSnapshot);
                WriteHeader(writer, operation);
                WriteSnapshot(writer, save.Snapshot);
                break;
            case RemoveSnapshots delete:
                writer.Write(KindDeleteSnapshots);
                WriteHeader(writer, operation);
                writer.Write(delete.PersistenceId);
                writer.Write(delete.MinSequenceNr);
                writer.Write(delete.MaxSequenceNr);
                writer.Write(delete.MinTimestampTicks);
                writer.Write(delete.MaxTimestampTicks);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.GetType().Name, "unknown journal operation");
        }
    }

    private static JournalOperation Read(BinaryReader reader)
    {
        var kind = reader.ReadByte();
        var id = ReadGuid(reader);
        var epoch = reader.ReadInt64();
        switch (kind)
        {
            case KindWrite:
            {
                var pid = reader.ReadString();
                var count = reader.ReadInt32();
                var events = new StoredEvent[count];
                for (var i = 0; i < count; i++) events[i] = new StoredEvent(reader.ReadInt64(), ReadBytes(reader));
                return new WriteEvents(id, epoch, pid, events);
            }
            case KindDeleteTo:
                return new DeleteEventsTo(id, epoch, reader.ReadString(), reader.ReadInt64());
            case KindSaveSnapshot:
                return new StoreSnapshot(id, epoch, ReadSnapshot(reader));
            case KindDeleteSnapshots:
                return new RemoveSnapshots(id, epoch, reader.ReadString(),
                    reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64());
            default:
                throw new InvalidDataException($"raft journal: unknown operation kind [{kind}]");
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

    private static void WriteHeader(BinaryWriter writer, JournalOperation operation)
    {
        writer.Write(operation.Id.ToByteArray());
        writer.Write(operation.Epoch);
    }
}
