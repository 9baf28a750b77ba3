using System.Text;
using ActorBroker.Stomp.Codec;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class StompFrameWriterTests
{
    [Fact(DisplayName = "Header names and values are escaped on the wire and parse back to the same text")]
    public void EscapesAndRoundTrips()
    {
        var frame = new StompFrame(StompCommand.Message, [new("we:ird\\", "line1\nline2\r:\\")], "body"u8.ToArray());

        var bytes = StompFrameWriter.ToArray(frame);
        Assert.Contains("we\\cird\\\\:line1\\nline2\\r\\c\\\\\n", Encoding.UTF8.GetString(bytes));

        var parsed = Assert.Single(StompFrameParserTests.ParseAll(bytes));
        Assert.Equal(frame.Headers, parsed.Headers.Where(h => h.Key != "content-length"));
        Assert.Equal("body", Encoding.UTF8.GetString(parsed.Body.Span));
    }

    [Fact(DisplayName = "CONNECTED headers are written literally, without escaping")]
    public void ConnectedIsNotEscaped()
    {
        var bytes = StompFrameWriter.ToArray(new StompFrame(StompCommand.Connected, [new("server", "ActorBroker/1.0:x")]));
        Assert.Equal("CONNECTED\nserver:ActorBroker/1.0:x\n\n\0", Encoding.UTF8.GetString(bytes));
    }

    [Fact(DisplayName = "MESSAGE always carries content-length, even with an empty body, and a body with NUL survives")]
    public void MessageHasContentLength()
    {
        Assert.Equal("MESSAGE\ncontent-length:0\n\n\0",
            Encoding.UTF8.GetString(StompFrameWriter.ToArray(new StompFrame(StompCommand.Message))));

        var body = new byte[] { 1, 0, 2, 0 };
        var parsed = Assert.Single(StompFrameParserTests.ParseAll(StompFrameWriter.ToArray(new StompFrame(StompCommand.Message, body: body))));
        Assert.Equal(body, parsed.Body.ToArray());
    }

    [Fact(DisplayName = "A content-length among the frame's headers is replaced by the true body length")]
    public void IgnoresCallerContentLength()
    {
        var text = Encoding.UTF8.GetString(StompFrameWriter.ToArray(
            new StompFrame(StompCommand.Error, [new("content-length", "999"), new("message", "m")], "abc"u8.ToArray())));
        Assert.Equal("ERROR\nmessage:m\ncontent-length:3\n\nabc\0", text);
    }

    [Fact(DisplayName = "Frames without a body other than MESSAGE get no content-length; a heart-beat is one LF")]
    public void NoBodyNoContentLength()
    {
        Assert.Equal("RECEIPT\nreceipt-id:1\n\n\0",
            Encoding.UTF8.GetString(StompFrameWriter.ToArray(new StompFrame(StompCommand.Receipt, [new("receipt-id", "1")]))));

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        StompFrameWriter.WriteHeartBeat(buffer);
        Assert.Equal("\n"u8.ToArray(), buffer.WrittenSpan.ToArray());
    }
}
