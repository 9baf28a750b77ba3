using System.Buffers;
using System.Text;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>
/// Reads jute primitives from one received frame. Every length is checked against the bytes that are
/// actually left in the frame before anything is allocated, so corrupt input fails with
/// <see cref="ZooKeeperProtocolException"/> instead of a huge allocation or an out-of-range read.
/// </summary>
internal ref struct JuteReader(ReadOnlySequence<byte> frame)
{
    private SequenceReader<byte> _reader = new(frame);

    public readonly long Remaining => _reader.Remaining;

    public int ReadInt() => _reader.TryReadBigEndian(out int value) ? value : throw Truncated("int");

    public long ReadLong() => _reader.TryReadBigEndian(out long value) ? value : throw Truncated("long");

    public bool ReadBool() => _reader.TryRead(out var value) ? value != 0 : throw Truncated("boolean");

    public string? ReadString()
    {
        var length = ReadLength("string");
        if (length < 0) return null;
        var bytes = _reader.UnreadSequence.Slice(0, length);
        _reader.Advance(length);
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ZooKeeperProtocolException($"Invalid UTF-8 in a string of [{length}] bytes", e);
        }
    }

    public byte[]? ReadBuffer()
    {
        var length = ReadLength("buffer");
        if (length < 0) return null;
        var bytes = _reader.UnreadSequence.Slice(0, length).ToArray();
        _reader.Advance(length);
        return bytes;
    }

    public List<string> ReadStringVector()
    {
        var count = ReadInt();
        if (count < 0) return [];
        // Each element takes at least its 4-byte length: a larger count cannot be honest.
        if (count > _reader.Remaining / 4)
            throw new ZooKeeperProtocolException($"Vector count [{count}] exceeds the [{_reader.Remaining}] bytes left in the frame");
        var values = new List<string>(count);
        for (var i = 0; i < count; i++)
            values.Add(ReadString() ?? throw new ZooKeeperProtocolException("Null string inside a vector"));
        return values;
    }

    private int ReadLength(string what)
    {
        var length = ReadInt();
        if (length < -1 || length > _reader.Remaining)
            throw new ZooKeeperProtocolException($"Invalid {what} length [{length}], [{_reader.Remaining}] bytes left in the frame");
        return length;
    }

    private readonly ZooKeeperProtocolException Truncated(string what) =>
        new($"Frame truncated while reading a {what} ([{_reader.Remaining}] bytes left)");

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
