using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace ActorBroker.Stomp.Codec;

/// <summary>
/// Pure STOMP 1.2 framing and parsing over a <see cref="ReadOnlySequence{T}"/>. It knows nothing
/// about connections or sessions. A first pass measures the frame by slicing (no copy) and returns
/// false while input is partial; only a complete frame is decoded into strings and a body array,
/// straight from the span when the frame lies in one segment, else from one pooled copy.
/// </summary>
public static class StompFrameParser
{
    private const byte LF = (byte)'\n';
    private const byte CR = (byte)'\r';
    private const byte Colon = (byte)':';
    private const byte Nul = 0;
    private const byte Backslash = (byte)'\\';

    private static ReadOnlySpan<byte> ContentLengthPrefix => "content-length:"u8;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Parses one frame from the start of <paramref name="buffer"/>. Heart-beat EOLs before it are
    /// consumed (sliced off) even when no frame is complete yet. On success <paramref name="buffer"/>
    /// is advanced past the frame's NUL. Throws <see cref="StompProtocolException"/> for input that
    /// can never become a valid frame.
    /// </summary>
    public static bool TryParseFrame(ref ReadOnlySequence<byte> buffer, in StompParserLimits limits, [NotNullWhen(true)] out StompFrame? frame)
    {
        frame = null;
        if (!SkipHeartBeats(ref buffer))
            return false;

        if (!TryMeasure(buffer, limits, out var layout))
            return false;

        var frameBytes = buffer.Slice(0, layout.Length);
        if (frameBytes.IsSingleSegment)
        {
            frame = Decode(frameBytes.FirstSpan, layout);
        }
        else
        {
            var length = checked((int)layout.Length);
            var rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                frameBytes.CopyTo(rented);
                frame = Decode(rented.AsSpan(0, length), layout);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        buffer = buffer.Slice(layout.Length);
        return true;
    }

    /// <summary>Where a complete frame's parts lie: header block (command line to blank line) then body then NUL.</summary>
    private readonly record struct FrameLayout(long HeaderBlockLength, long BodyLength)
    {
        public long Length => HeaderBlockLength + BodyLength + 1;
    }

    /// <summary>Slices off EOLs (heart-beats); false when nothing else is buffered yet.</summary>
    private static bool SkipHeartBeats(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        var complete = true;
        while (reader.TryPeek(out var b))
        {
            if (b == LF)
            {
                reader.Advance(1);
            }
            else if (b == CR)
            {
                if (!reader.TryPeek(1, out var next))
                {
                    complete = false;
                    break;
                }

                if (next != LF)
                    throw Error(StompErrorKind.MalformedFrame, "CR not followed by LF before a command");
                reader.Advance(2);
            }
            else
            {
                break;
            }
        }

        buffer = buffer.Slice(reader.Position);
        return complete && !buffer.IsEmpty;
    }

    /// <summary>Finds the end of the frame without copying; checks every size limit as early as the bytes allow.</summary>
    private static bool TryMeasure(in ReadOnlySequence<byte> buffer, in StompParserLimits limits, out FrameLayout layout)
    {
        layout = default;
        var reader = new SequenceReader<byte>(buffer);
        var headerCount = 0;
        var contentLength = -1L;
        var isCommandLine = true;

        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, LF))
            {
                if (reader.Remaining > limits.MaxHeaderLength + 1L)
                    throw LineTooLong(limits);
                if (buffer.Length > limits.MaxFrameSize)
                    throw FrameTooLarge(limits);
                return false;
            }

            var length = line.Length;
            if (length > 0 && LastByte(line) == CR)
                length--;
            if (length > limits.MaxHeaderLength)
                throw LineTooLong(limits);
            if (reader.Consumed > limits.MaxFrameSize)
                throw FrameTooLarge(limits);

            if (isCommandLine)
            {
                isCommandLine = false;
                continue;
            }

            if (length == 0)
                break;

            if (++headerCount > limits.MaxHeaders)
                throw Error(StompErrorKind.TooManyHeaders, $"frame has more than [{limits.MaxHeaders}] headers");

            if (contentLength < 0 && length >= ContentLengthPrefix.Length && StartsWith(line, ContentLengthPrefix))
                contentLength = ParseContentLength(line.Slice(ContentLengthPrefix.Length, length - ContentLengthPrefix.Length));
        }

        var headerBlockLength = reader.Consumed;
        if (contentLength >= 0)
        {
            if (headerBlockLength + contentLength + 1 > limits.MaxFrameSize)
                throw FrameTooLarge(limits);
            if (reader.Remaining < contentLength + 1)
                return false;

            reader.Advance(contentLength);
            reader.TryPeek(out var terminator);
            if (terminator != Nul)
                throw Error(StompErrorKind.MissingNulTerminator, $"body of content-length [{contentLength}] is not followed by NUL");
            layout = new FrameLayout(headerBlockLength, contentLength);
            return true;
        }

        if (!reader.TryAdvanceTo(Nul, advancePastDelimiter: true))
        {
            if (buffer.Length > limits.MaxFrameSize)
                throw FrameTooLarge(limits);
            return false;
        }

        if (reader.Consumed > limits.MaxFrameSize)
            throw FrameTooLarge(limits);
        layout = new FrameLayout(headerBlockLength, reader.Consumed - headerBlockLength - 1);
        return true;
    }

    /// <summary>Builds the frame from its complete, measured bytes.</summary>
    private static StompFrame Decode(ReadOnlySpan<byte> bytes, FrameLayout layout)
    {
        var lineEnd = bytes.IndexOf(LF);
        var commandLine = TrimCR(bytes[..lineEnd]);
        if (!StompCommands.TryParse(commandLine, out var command))
            throw Error(StompErrorKind.UnknownCommand, $"unknown command [{Printable(commandLine)}]");

        var escaped = command.UsesHeaderEscaping();
        var position = lineEnd + 1;
        var headers = new List<KeyValuePair<string, string>>();
        while (true)
        {
            lineEnd = bytes[position..].IndexOf(LF);
            var line = TrimCR(bytes.Slice(position, lineEnd));
            position += lineEnd + 1;
            if (line.IsEmpty)
                break;

            var colon = line.IndexOf(Colon);
            if (colon < 0)
                throw Error(StompErrorKind.MalformedFrame, $"header line without ':' [{Printable(line)}]");
            if (colon == 0)
                throw Error(StompErrorKind.MalformedFrame, $"header with an empty name [{Printable(line)}]");

            headers.Add(new KeyValuePair<string, string>(DecodeText(line[..colon], escaped), DecodeText(line[(colon + 1)..], escaped)));
        }

        var body = layout.BodyLength == 0 ? ReadOnlyMemory<byte>.Empty : bytes.Slice(position, (int)layout.BodyLength).ToArray();
        return new StompFrame(command, headers, body);
    }

    /// <summary>Strict UTF-8 decoding plus STOMP 1.2 unescaping (\r \n \c \\ only).</summary>
    private static string DecodeText(ReadOnlySpan<byte> raw, bool escaped)
    {
        if (!escaped || raw.IndexOf(Backslash) < 0)
            return DecodeUtf8(raw);

        var rented = ArrayPool<byte>.Shared.Rent(raw.Length);
        try
        {
            var length = 0;
            for (var i = 0; i < raw.Length; i++)
            {
                var b = raw[i];
                if (b != Backslash)
                {
                    rented[length++] = b;
                    continue;
                }

                if (++i == raw.Length)
                    throw Error(StompErrorKind.InvalidEscape, $"header ends with a lone backslash [{Printable(raw)}]");
                rented[length++] = raw[i] switch
                {
                    (byte)'r' => CR,
                    (byte)'n' => LF,
                    (byte)'c' => Colon,
                    Backslash => Backslash,
                    _ => throw Error(StompErrorKind.InvalidEscape, $"undefined escape sequence [\\{(char)raw[i]}], accepted: \\r \\n \\c \\\\"),
                };
            }

            return DecodeUtf8(rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error(StompErrorKind.NonUtf8Header, $"header is not valid UTF-8 [{Printable(bytes)}]");
        }
    }

    private static long ParseContentLength(ReadOnlySequence<byte> value)
    {
        Span<byte> digits = stackalloc byte[11];
        if (value.Length is 0 or > 10)
            throw InvalidContentLength(value);
        value.CopyTo(digits);
        long result = 0;
        foreach (var d in digits[..(int)value.Length])
        {
            if (d is < (byte)'0' or > (byte)'9')
                throw InvalidContentLength(value);
            result = result * 10 + (d - '0');
        }

        if (result > int.MaxValue)
            throw InvalidContentLength(value);
        return result;
    }

    private static bool StartsWith(in ReadOnlySequence<byte> line, ReadOnlySpan<byte> prefix)
    {
        if (line.FirstSpan.Length >= prefix.Length)
            return line.FirstSpan.StartsWith(prefix);
        Span<byte> head = stackalloc byte[prefix.Length];
        line.Slice(0, prefix.Length).CopyTo(head);
        return head.SequenceEqual(prefix);
    }

    private static byte LastByte(in ReadOnlySequence<byte> line) => line.Slice(line.Length - 1).FirstSpan[0];

    private static ReadOnlySpan<byte> TrimCR(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == CR ? line[..^1] : line;

    /// <summary>Shows client bytes in an error message: ASCII only, at most 64 characters.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var shown = bytes.Length > 64 ? bytes[..64] : bytes;
        var chars = new char[shown.Length];
        for (var i = 0; i < shown.Length; i++)
            chars[i] = shown[i] is >= 0x20 and < 0x7f ? (char)shown[i] : '?';
        return bytes.Length > 64 ? new string(chars) + "..." : new string(chars);
    }

    private static string Printable(in ReadOnlySequence<byte> bytes) => Printable(bytes.Length > 64 ? bytes.Slice(0, 64).ToArray() : bytes.ToArray());

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StompProtocolException InvalidContentLength(in ReadOnlySequence<byte> value) =>
        Error(StompErrorKind.InvalidContentLength, $"content-length [{Printable(value)}] is not an integer from 0 to {int.MaxValue}");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StompProtocolException LineTooLong(in StompParserLimits limits) =>
        Error(StompErrorKind.HeaderLineTooLong, $"command or header line longer than [{limits.MaxHeaderLength}] bytes");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StompProtocolException FrameTooLarge(in StompParserLimits limits) =>
        Error(StompErrorKind.FrameTooLarge, $"frame larger than max-frame-size [{limits.MaxFrameSize}] bytes");

    private static StompProtocolException Error(StompErrorKind kind, string message) => new(kind, message);
}
