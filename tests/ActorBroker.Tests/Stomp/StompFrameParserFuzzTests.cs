using System.Buffers;
using System.Text;
using ActorBroker.Stomp.Codec;
using Xunit;

namespace ActorBroker.Tests.Stomp;

public sealed class StompFrameParserFuzzTests
{
    private static readonly StompParserLimits Limits = new(MaxFrameSize: 2048, MaxHeaders: 16, MaxHeaderLength: 256);

    private static readonly byte[][] ValidFrames =
    [
        "SEND\ndestination:/queue/a\nreceipt:r\n\nbody\0"u8.ToArray(),
        "MESSAGE\r\nsubscription:s\r\nmessage-id:m\\c1\r\ncontent-length:3\r\n\r\na\0b\0\n"u8.ToArray(),
        "CONNECT\naccept-version:1.2\nhost:h\nheart-beat:0,0\n\n\0"u8.ToArray(),
    ];

    [Fact(DisplayName = "Corrupted frames either parse or throw StompProtocolException, never another exception, and never loop")]
    public void CorruptedInputFailsCleanly()
    {
        var random = new Random(20261125);
        var interesting = new byte[] { 0, (byte)'\n', (byte)'\r', (byte)':', (byte)'\\', 0xFF, 0xC3, (byte)'9' };
        for (var iteration = 0; iteration < 5000; iteration++)
        {
            var bytes = (byte[])ValidFrames[random.Next(ValidFrames.Length)].Clone();
            var mutations = random.Next(1, 4);
            for (var m = 0; m < mutations; m++)
            {
                bytes[random.Next(bytes.Length)] = random.Next(2) == 0
                    ? interesting[random.Next(interesting.Length)]
                    : (byte)random.Next(256);
            }

            var split = random.Next(bytes.Length + 1);
            var buffer = StompFrameParserTests.Segments(bytes[..split], bytes[split..]);
            try
            {
                var frames = 0;
                while (StompFrameParser.TryParseFrame(ref buffer, Limits, out _))
                    Assert.True(++frames <= bytes.Length, "the parser must consume input on every frame");
            }
            catch (StompProtocolException)
            {
                // The expected outcome for input that can never be valid.
            }
            catch (Exception unexpected)
            {
                Assert.Fail($"input [{Encoding.ASCII.GetString(bytes).Replace("\0", "\\0")}] threw {unexpected}");
            }
        }
    }

    [Fact(DisplayName = "Random byte noise never crashes the parser outside StompProtocolException")]
    public void NoiseFailsCleanly()
    {
        var random = new Random(7);
        for (var iteration = 0; iteration < 2000; iteration++)
        {
            var bytes = new byte[random.Next(1, 300)];
            random.NextBytes(bytes);
            var buffer = new ReadOnlySequence<byte>(bytes);
            try
            {
                while (StompFrameParser.TryParseFrame(ref buffer, Limits, out _))
                {
                }
            }
            catch (StompProtocolException)
            {
            }
        }
    }
}
