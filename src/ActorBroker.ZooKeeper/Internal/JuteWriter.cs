using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>
/// Writes jute primitives (ZooKeeper's wire serialization: big-endian integers, length-prefixed
/// UTF-8 strings and byte buffers where -1 means null, count-prefixed vectors) to a buffer writer.
/// </summary>
internal readonly struct JuteWriter(IBufferWriter<byte> output)
{
    public void WriteInt(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    public void WriteLong(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    public void WriteBool(bool value)
    {
        output.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        output.Advance(1);
    }

    public void WriteString(string? value)
    {
        if (value is null) { WriteInt(-1); return; }
        var length = Encoding.UTF8.GetByteCount(value);
        WriteInt(length);
        Encoding.UTF8.GetBytes(value, output.GetSpan(length));
        output.Advance(length);
    }

    public void WriteBuffer(ReadOnlySpan<byte> value)
    {
        WriteInt(value.Length);
        value.CopyTo(output.GetSpan(value.Length));
        output.Advance(value.Length);
    }

    public void WriteStringVector(IReadOnlyCollection<string> values)
    {
        WriteInt(values.Count);
        foreach (var value in values) WriteString(value);
    }

    /// <summary>The ACL "world:anyone" with all permissions: this client does no authentication.</summary>
    public void WriteOpenAclUnsafe()
    {
        const int allPermissions = 31; // READ | WRITE | CREATE | DELETE | ADMIN
        WriteInt(1);
        WriteInt(allPermissions);
        WriteString("world");
        WriteString("anyone");
    }
}
