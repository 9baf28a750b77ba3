using System.Buffers;
using System.Globalization;
using System.Text;

namespace ActorBroker.Stomp.Codec;

/// <summary>
/// Encodes frames into an <see cref="IBufferWriter{T}"/> (a PipeWriter in production). Escapes
/// header text per STOMP 1.2 except on CONNECT/CONNECTED, and writes content-length itself: always
/// on MESSAGE (bodies may hold NUL), on any other frame with a body. A content-length among the
/// frame's own headers is ignored so the length on the wire is always the true one.
/// </summary>
public static class StompFrameWriter
{
    private const string ContentLength = "content-length";

    public static void Write(IBufferWriter<byte> output, StompFrame frame)
    {
        output.Write(frame.Command.ToWireBytes());
        output.Write("\n"u8);

        var escape = frame.Command.UsesHeaderEscaping();
        foreach (var header in frame.Headers)
        {
            if (string.Equals(header.Key, ContentLength, StringComparison.Ordinal))
                continue;
            WriteText(output, header.Key, escape);
            output.Write(":"u8);
            WriteText(output, header.Value, escape);
            output.Write("\n"u8);
        }

        if (frame.Command == StompCommand.Message || !frame.Body.IsEmpty)
        {
            output.Write("content-length:"u8);
            WriteText(output, frame.Body.Length.ToString(CultureInfo.InvariantCulture), escape: false);
            output.Write("\n"u8);
        }

        output.Write("\n"u8);
        output.Write(frame.Body.Span);
        output.Write("\0"u8);
    }

    /// <summary>A heart-beat is one EOL between frames.</summary>
    public static void WriteHeartBeat(IBufferWriter<byte> output) => output.Write("\n"u8);

    /// <summary>The frame's wire bytes; for tests and one-off writes.</summary>
    public static byte[] ToArray(StompFrame frame)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, frame);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteText(IBufferWriter<byte> output, string text, bool escape)
    {
        if (escape && text.AsSpan().IndexOfAny("\r\n:\\") >= 0)
            text = Escape(text);
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private static string Escape(string text)
    {
        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            builder.Append(c switch
            {
                '\r' => "\\r",
                '\n' => "\\n",
                ':' => "\\c",
                '\\' => "\\\\",
                _ => null,
            });
            if (c is not ('\r' or '\n' or ':' or '\\'))
                builder.Append(c);
        }

        return builder.ToString();
    }
}
