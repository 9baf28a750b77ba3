namespace ActorBroker.Stomp.Codec;

/// <summary>Bounds the parser enforces so a hostile client cannot make the broker buffer without limit.</summary>
/// <param name="MaxFrameSize">Largest whole frame in bytes (command, headers, body, NUL).</param>
/// <param name="MaxHeaders">Most header lines one frame may carry.</param>
/// <param name="MaxHeaderLength">Longest command or header line in bytes, EOL excluded.</param>
public readonly record struct StompParserLimits(int MaxFrameSize, int MaxHeaders, int MaxHeaderLength)
{
    /// <summary>The defaults of reference.conf: 10 MiB frames, 1000 headers, 10 KiB lines.</summary>
    public static StompParserLimits Default { get; } = new(10 * 1024 * 1024, 1000, 10 * 1024);
}
