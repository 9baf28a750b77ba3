using System.Buffers;
using System.Text;
using ActorBroker.Stomp.Codec;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class StompFrameParserTests
{
    private static readonly StompParserLimits Limits = new(MaxFrameSize: 4096, MaxHeaders: 8, MaxHeaderLength: 128);

    [Fact(DisplayName = "A SEND frame parses into its command, headers in order and body")]
    public void ParsesSendFrame()
    {
        var frames = ParseAll("SEND\ndestination:/queue/a\nreceipt:r1\n\nhello\0");

        var frame = Assert.Single(frames);
        Assert.Equal(StompCommand.Send, frame.Command);
        Assert.Equal([new("destination", "/queue/a"), new("receipt", "r1")], frame.Headers);
        Assert.Equal("hello", Encoding.UTF8.GetString(frame.Body.Span));
    }

    [Fact(DisplayName = "Every proper prefix of a frame is partial input: false, and nothing but heart-beats consumed")]
    public void PartialInputReturnsFalse()
    {
        var bytes = Encoding.UTF8.GetBytes("\n\r\nSEND\r\ndestination:/queue/a\r\ncontent-length:3\r\n\r\na\0b\0");
        for (var length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.False(StompFrameParser.TryParseFrame(ref buffer, Limits, out _), $"prefix of {length} bytes");
            Assert.True(buffer.Length >= Math.Max(0, length - 3), "only the three heart-beat bytes may be consumed");
        }
    }

    [Fact(DisplayName = "A frame split across two segments at every byte boundary parses the same as in one segment")]
    public void SplitAtEveryBoundary()
    {
        var bytes = Encoding.UTF8.GetBytes("\nMESSAGE\r\nkey:a\\cb\\\\c\\nd\nkey:second\ncontent-length:5\n\nx\0y\0z\0\n\nRECEIPT\nreceipt-id:7\n\n\0");
        var expected = ParseAll(bytes);
        Assert.Equal(2, expected.Count);

        for (var split = 0; split <= bytes.Length; split++)
        {
            var sequence = Segments(bytes[..split], bytes[split..]);
            AssertSameFrames(expected, ParseAll(sequence));
        }

        AssertSameFrames(expected, ParseAll(Segments(bytes.Select(b => new[] { b }).ToArray())));
    }

    [Fact(DisplayName = "Header escapes \\r \\n \\c \\\\ decode to CR, LF, colon and backslash")]
    public void UnescapesHeaders()
    {
        var frame = ParseOne("SEND\nna\\cme:a\\cb\\nc\\\\d\\re\n\n\0");
        Assert.Equal(new KeyValuePair<string, string>("na:me", "a:b\nc\\d\re"), Assert.Single(frame.Headers));
    }

    [Theory(DisplayName = "CONNECT, STOMP and CONNECTED headers are taken literally, not unescaped")]
    [InlineData("CONNECT")]
    [InlineData("STOMP")]
    [InlineData("CONNECTED")]
    public void ConnectIsNotUnescaped(string command)
    {
        var frame = ParseOne(command + "\npasscode:a\\cb\\x:y\n\n\0");
        Assert.Equal("a\\cb\\x:y", frame.GetHeader("passcode"));
    }

    [Fact(DisplayName = "content-length is honoured, so a body may contain NUL bytes")]
    public void ContentLengthAllowsNul()
    {
        var frame = ParseOne("SEND\ncontent-length:5\n\na\0b\0c\0");
        Assert.Equal(new byte[] { (byte)'a', 0, (byte)'b', 0, (byte)'c' }, frame.Body.ToArray());
    }

    [Fact(DisplayName = "CRLF line ends are accepted and not part of commands, names or values")]
    public void AcceptsCrlf()
    {
        var frame = ParseOne("SEND\r\ndestination:/queue/a\r\n\r\nbody\0");
        Assert.Equal(StompCommand.Send, frame.Command);
        Assert.Equal("/queue/a", frame.GetHeader("destination"));
        Assert.Equal("body", Encoding.UTF8.GetString(frame.Body.Span));
    }

    [Fact(DisplayName = "Repeated headers are all kept in order and the first one wins on lookup")]
    public void FirstRepeatedHeaderWins()
    {
        var frame = ParseOne("SEND\nfoo:first\nfoo:second\ncontent-length:1\ncontent-length:9\n\nx\0");
        Assert.Equal("first", frame.GetHeader("foo"));
        Assert.Equal(2, frame.Headers.Count(h => h.Key == "foo"));
        Assert.Equal("x", Encoding.UTF8.GetString(frame.Body.Span));
    }

    [Fact(DisplayName = "Heart-beat EOLs before, between and after frames are skipped and consumed")]
    public void SkipsHeartBeats()
    {
        Assert.Equal(2, ParseAll("\n\r\n\nBEGIN\ntransaction:t\n\n\0\n\r\n\nCOMMIT\ntransaction:t\n\n\0\n\n").Count);

        var onlyHeartBeats = new ReadOnlySequence<byte>("\n\r\n\n"u8.ToArray());
        Assert.False(StompFrameParser.TryParseFrame(ref onlyHeartBeats, Limits, out _));
        Assert.True(onlyHeartBeats.IsEmpty);
    }

    [Fact(DisplayName = "An empty header value and a value containing colons (first colon splits) are kept")]
    public void EmptyAndColonValues()
    {
        var frame = ParseOne("CONNECT\nlogin:\nhost:a:b\n\n\0");
        Assert.Equal("", frame.GetHeader("login"));
        Assert.Equal("a:b", frame.GetHeader("host"));
    }

    [Theory(DisplayName = "Input that can never be a valid frame throws a typed protocol error naming the cause")]
    [InlineData("FOO\n\n\0", StompErrorKind.UnknownCommand, "[FOO]")]
    [InlineData("send\n\n\0", StompErrorKind.UnknownCommand, "[send]")]
    [InlineData("SEND\nno-colon\n\n\0", StompErrorKind.MalformedFrame, "[no-colon]")]
    [InlineData("SEND\n:value\n\n\0", StompErrorKind.MalformedFrame, "empty name")]
    [InlineData("\rX", StompErrorKind.MalformedFrame, "CR not followed by LF")]
    [InlineData("SEND\na:b\\t\n\n\0", StompErrorKind.InvalidEscape, "[\\t]")]
    [InlineData("SEND\na:b\\\n\n\0", StompErrorKind.InvalidEscape, "lone backslash")]
    [InlineData("SEND\ncontent-length:abc\n\n\0", StompErrorKind.InvalidContentLength, "[abc]")]
    [InlineData("SEND\ncontent-length:-1\n\n\0", StompErrorKind.InvalidContentLength, "[-1]")]
    [InlineData("SEND\ncontent-length:\n\n\0", StompErrorKind.InvalidContentLength, "[]")]
    [InlineData("SEND\ncontent-length:99999999999\n\n\0", StompErrorKind.InvalidContentLength, "99999999999")]
    [InlineData("SEND\ncontent-length:2\n\nabc\0", StompErrorKind.MissingNulTerminator, "[2]")]
    [InlineData("SEND\ncontent-length:5000\n\n", StompErrorKind.FrameTooLarge, "[4096]")]
    [InlineData("SEND\nh1:1\nh2:2\nh3:3\nh4:4\nh5:5\nh6:6\nh7:7\nh8:8\nh9:9\n\n\0", StompErrorKind.TooManyHeaders, "[8]")]
    public void RejectsInvalidInput(string input, StompErrorKind kind, string messagePart)
    {
        var error = Assert.Throws<StompProtocolException>(() => ParseAll(input));
        Assert.Equal(kind, error.Kind);
        Assert.Contains(messagePart, error.Message);
    }

    [Fact(DisplayName = "A header that is not valid UTF-8 is a NonUtf8Header error")]
    public void RejectsNonUtf8Header()
    {
        var bytes = "SEND\nname:"u8.ToArray().Concat(new byte[] { 0xC3, 0x28 }).Concat("\n\n\0"u8.ToArray()).ToArray();
        Assert.Equal(StompErrorKind.NonUtf8Header, Assert.Throws<StompProtocolException>(() => ParseAll(bytes)).Kind);
    }

    [Fact(DisplayName = "A header line over max-header-length is refused, complete or still partial")]
    public void RejectsLongHeaderLines()
    {
        var longValue = new string('v', 200);
        Assert.Equal(StompErrorKind.HeaderLineTooLong,
            Assert.Throws<StompProtocolException>(() => ParseAll($"SEND\nk:{longValue}\n\n\0")).Kind);
        Assert.Equal(StompErrorKind.HeaderLineTooLong,
            Assert.Throws<StompProtocolException>(() => ParseAll($"SEND\nk:{longValue}")).Kind);
    }

    [Fact(DisplayName = "A frame over max-frame-size is refused with or without content-length, even before its end arrived")]
    public void RejectsLargeFrames()
    {
        var body = new string('b', 5000);
        Assert.Equal(StompErrorKind.FrameTooLarge, Assert.Throws<StompProtocolException>(() => ParseAll($"SEND\n\n{body}\0")).Kind);
        Assert.Equal(StompErrorKind.FrameTooLarge, Assert.Throws<StompProtocolException>(() => ParseAll($"SEND\n\n{body}")).Kind);
        Assert.Single(ParseAll($"SEND\n\n{new string('b', 4000)}\0"));
    }

    [Fact(DisplayName = "A body that never sees its NUL is partial until the limit, so the parser keeps waiting")]
    public void BodyWithoutNulIsPartial()
    {
        var buffer = new ReadOnlySequence<byte>("SEND\n\nno terminator yet"u8.ToArray());
        Assert.False(StompFrameParser.TryParseFrame(ref buffer, Limits, out _));
    }

    internal static List<StompFrame> ParseAll(string text) => ParseAll(Encoding.UTF8.GetBytes(text));

    internal static List<StompFrame> ParseAll(byte[] bytes) => ParseAll(new ReadOnlySequence<byte>(bytes));

    internal static List<StompFrame> ParseAll(ReadOnlySequence<byte> buffer)
    {
        var frames = new List<StompFrame>();
        while (StompFrameParser.TryParseFrame(ref buffer, Limits, out var frame))
            frames.Add(frame);
        return frames;
    }

    private static StompFrame ParseOne(string text) => Assert.Single(ParseAll(text));

    private static void AssertSameFrames(List<StompFrame> expected, List<StompFrame> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Command, actual[i].Command);
            Assert.Equal(expected[i].Headers, actual[i].Headers);
            Assert.Equal(expected[i].Body.ToArray(), actual[i].Body.ToArray());
        }
    }

    /// <summary>A multi-segment sequence, as a pipe hands over data that arrived in several reads.</summary>
    internal static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (var part in parts)
        {
            var segment = new Segment(part, last?.RunningIndex + last?.Memory.Length ?? 0);
            first ??= segment;
            if (last is not null)
                last.SetNext(segment);
            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, long runningIndex)
        {
            Memory = bytes;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
