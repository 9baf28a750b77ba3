using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Serialization;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace ActorBroker.Core.Serialization;

/// <summary>
/// Compact binary format for every <see cref="IBrokerEvent"/>: a format version byte, then fields in
/// declaration order. Integers are little-endian fixed width, strings are an int32 UTF-8 byte count and
/// the bytes, lists an int32 count. A journal stores one of these per event, so size matters more than
/// schema evolution tooling. A manifest's layout never changes, so old journals and snapshots always replay: a type
/// whose layout must change gets a new manifest (QS2), and the old one stays readable.
/// </summary>
public sealed class BrokerEventSerializer : SerializerWithStringManifest
{
    /// <summary>Unique among the serializers of an ActorSystem.</summary>
    public const int SerializerId = 9171;

    /// <summary>First byte of every payload; a payload with another value is refused.</summary>
    public const byte FormatVersion = 1;

    private const string DestinationCreatedManifest = "DC";
    private const string DurableCreatedManifest = "DSC";
    private const string DurableRemovedManifest = "DSR";
    private const string RegistrySnapshotManifest = "RS";
    private const string MessagesEnqueuedManifest = "ME";
    private const string MessagesRemovedManifest = "MR";
    private const string DispatchMarkManifest = "DM";
    private const string QueueSnapshotManifest = "QS";
    private const string MessagesRedeliveredManifest = "RD";
    // A queue snapshot with redelivery counts: QS's layout, then the counts. A snapshot without any is still
    // written as QS, byte for byte what earlier versions wrote and read.
    private const string QueueSnapshotWithRedeliveriesManifest = "QS2";

    public BrokerEventSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => o switch
    {
        DestinationCreated => DestinationCreatedManifest,
        DurableSubscriptionCreated => DurableCreatedManifest,
        DurableSubscriptionRemoved => DurableRemovedManifest,
        RegistrySnapshot => RegistrySnapshotManifest,
        MessagesEnqueued => MessagesEnqueuedManifest,
        MessagesRemoved => MessagesRemovedManifest,
        DispatchMarkAdvanced => DispatchMarkManifest,
        QueueSnapshot { Redeliveries.Count: 0 } => QueueSnapshotManifest,
        QueueSnapshot => QueueSnapshotWithRedeliveriesManifest,
        MessagesRedelivered => MessagesRedeliveredManifest,
        _ => throw new ArgumentException($"{nameof(BrokerEventSerializer)} cannot serialize [{o.GetType()}]"),
    };

    public override byte[] ToBinary(object obj)
    {
        var w = new Writer();
        w.Byte(FormatVersion);
        switch (obj)
        {
            case DestinationCreated e:
                w.Destination(e.Destination);
                break;
            case DurableSubscriptionCreated e:
                w.String(e.ClientId);
                w.String(e.SubscriptionName);
                w.String(e.TopicName);
                break;
            case DurableSubscriptionRemoved e:
                w.String(e.ClientId);
                w.String(e.SubscriptionName);
                break;
            case RegistrySnapshot e:
                w.Int(e.Destinations.Count);
                foreach (var d in e.Destinations) w.Destination(d);
                w.Int(e.DurableSubscriptions.Count);
                foreach (var d in e.DurableSubscriptions)
                {
                    w.String(d.ClientId);
                    w.String(d.SubscriptionName);
                    w.String(d.TopicName);
                }
                break;
            case MessagesEnqueued e:
                w.EnqueuedMessages(e.Messages);
                break;
            case MessagesRemoved e:
                w.Int(e.Seqs.Count);
                foreach (var s in e.Seqs) w.Long(s);
                break;
            case DispatchMarkAdvanced e:
                w.Long(e.UpToSeq);
                break;
            case QueueSnapshot e:
                w.Long(e.NextSeq);
                w.Long(e.DispatchMark);
                w.EnqueuedMessages(e.Messages);
                if (e.Redeliveries.Count == 0) break;
                w.Int(e.Redeliveries.Count);
                foreach (var r in e.Redeliveries)
                {
                    w.Long(r.Seq);
                    w.Int(r.Count);
                }
                break;
            case MessagesRedelivered e:
                w.Int(e.Seqs.Count);
                foreach (var s in e.Seqs) w.Long(s);
                break;
            default:
                throw new ArgumentException($"{nameof(BrokerEventSerializer)} cannot serialize [{obj.GetType()}]");
        }
        return w.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var r = new Reader(bytes, manifest);
        var version = r.Byte();
        if (version != FormatVersion)
            throw new SerializationException(
                $"Unsupported broker event format version [{version}] for manifest [{manifest}], expected [{FormatVersion}]");

        object result = manifest switch
        {
            DestinationCreatedManifest => new DestinationCreated(r.Destination()),
            DurableCreatedManifest => new DurableSubscriptionCreated(r.String(), r.String(), r.String()),
            DurableRemovedManifest => new DurableSubscriptionRemoved(r.String(), r.String()),
            RegistrySnapshotManifest => new RegistrySnapshot(
                r.List(() => r.Destination()),
                r.List(() => new DurableSubscriptionEntry(r.String(), r.String(), r.String()))),
            MessagesEnqueuedManifest => new MessagesEnqueued(r.EnqueuedMessages()),
            MessagesRemovedManifest => new MessagesRemoved(r.List(() => r.Long())),
            DispatchMarkManifest => new DispatchMarkAdvanced(r.Long()),
            QueueSnapshotManifest => new QueueSnapshot(r.Long(), r.Long(), r.EnqueuedMessages()),
            QueueSnapshotWithRedeliveriesManifest => new QueueSnapshot(r.Long(), r.Long(), r.EnqueuedMessages(),
                r.List(() => new RedeliveryCount(r.Long(), r.Int()))),
            MessagesRedeliveredManifest => new MessagesRedelivered(r.List(() => r.Long())),
            _ => throw new SerializationException($"Unknown broker event manifest [{manifest}]"),
        };
        r.EnsureConsumed();
        return result;
    }

    private sealed class Writer
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(256);

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

        public void Byte(byte value)
        {
            _buffer.GetSpan(1)[0] = value;
            _buffer.Advance(1);
        }

        public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

        public void Int(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
            _buffer.Advance(4);
        }

        public void Long(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
            _buffer.Advance(8);
        }

        public void Bytes(ReadOnlySpan<byte> value)
        {
            Int(value.Length);
            _buffer.Write(value);
        }

        public void String(string value)
        {
            var count = Encoding.UTF8.GetByteCount(value);
            Int(count);
            Encoding.UTF8.GetBytes(value, _buffer.GetSpan(count));
            _buffer.Advance(count);
        }

        public void Destination(Destination d)
        {
            Byte((byte)d.Kind);
            String(d.Name);
        }

        public void EnqueuedMessages(IReadOnlyList<EnqueuedMessage> messages)
        {
            Int(messages.Count);
            foreach (var m in messages)
            {
                Long(m.Seq);
                Message(m.Message);
            }
        }

        private void Message(BrokerMessage m)
        {
            String(m.MessageId);
            Destination(m.Destination);
            Bool(m.Persistent);
            Long(m.Timestamp);
            Int(m.Headers.Count);
            foreach (var (key, value) in m.Headers)
            {
                String(key);
                String(value);
            }
            Bytes(m.Body.Span);
        }
    }

    private sealed class Reader(byte[] bytes, string manifest)
    {
        private readonly byte[] _bytes = bytes;
        private int _position;

        public byte Byte() => Take(1)[0];

        public bool Bool() => Byte() switch
        {
            0 => false,
            1 => true,
            var b => throw Corrupt($"invalid boolean [{b}]"),
        };

        public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public string String() => Encoding.UTF8.GetString(Take(Count()));

        public byte[] Bytes() => Take(Count()).ToArray();

        public Destination Destination()
        {
            var kind = (DestinationKind)Byte();
            if (kind is not (DestinationKind.Queue or DestinationKind.Topic))
                throw Corrupt($"invalid destination kind [{(byte)kind}]");
            return new Destination(kind, String());
        }

        public IReadOnlyList<T> List<T>(Func<T> item)
        {
            var count = Count();
            var list = new List<T>(Math.Min(count, 1024));
            for (var i = 0; i < count; i++) list.Add(item());
            return list;
        }

        public IReadOnlyList<EnqueuedMessage> EnqueuedMessages()
        {
            var count = Count();
            var list = new List<EnqueuedMessage>(Math.Min(count, 1024));
            for (var i = 0; i < count; i++)
            {
                var seq = Long();
                list.Add(new EnqueuedMessage(seq, Message()));
            }
            return list;
        }

        public void EnsureConsumed()
        {
            if (_position != _bytes.Length)
                throw Corrupt($"{_bytes.Length - _position} trailing bytes");
        }

        private BrokerMessage Message()
        {
            var id = String();
            var destination = Destination();
            var persistent = Bool();
            var timestamp = Long();
            var headerCount = Count();
            var headers = new KeyValuePair<string, string>[headerCount];
            for (var i = 0; i < headerCount; i++)
            {
                var key = String();
                headers[i] = new KeyValuePair<string, string>(key, String());
            }
            return new BrokerMessage(id, destination, persistent, timestamp, headers, Bytes());
        }

        private int Count()
        {
            var count = Int();
            if (count < 0 || count > _bytes.Length - _position)
                throw Corrupt($"length [{count}] exceeds the remaining {_bytes.Length - _position} bytes");
            return count;
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (_bytes.Length - _position < count)
                throw Corrupt($"truncated: needed {count} bytes at offset {_position}");
            var span = _bytes.AsSpan(_position, count);
            _position += count;
            return span;
        }

        private SerializationException Corrupt(string what) =>
            new($"Corrupt broker event [{manifest}]: {what}");
    }
}
