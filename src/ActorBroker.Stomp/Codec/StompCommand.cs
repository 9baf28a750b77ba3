namespace ActorBroker.Stomp.Codec;

/// <summary>Every command of STOMP 1.2, client and server side (the parser accepts both; the session decides what is allowed).</summary>
public enum StompCommand : byte
{
    Connect = 1,
    Stomp,
    Connected,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Message,
    Receipt,
    Error,
}

/// <summary>Wire names of <see cref="StompCommand"/>, both ways.</summary>
public static class StompCommands
{
    private static readonly string[] Names =
    [
        "", "CONNECT", "STOMP", "CONNECTED", "SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK",
        "BEGIN", "COMMIT", "ABORT", "DISCONNECT", "MESSAGE", "RECEIPT", "ERROR",
    ];

    private static readonly byte[][] Utf8Names = Names.Select(n => System.Text.Encoding.ASCII.GetBytes(n)).ToArray();

    public static string ToWireName(this StompCommand command) => Names[(int)command];

    internal static ReadOnlySpan<byte> ToWireBytes(this StompCommand command) => Utf8Names[(int)command];

    /// <summary>Matches a command line (without its EOL); false for anything not a STOMP 1.2 command.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out StompCommand command)
    {
        for (var i = 1; i < Utf8Names.Length; i++)
        {
            if (line.SequenceEqual(Utf8Names[i]))
            {
                command = (StompCommand)i;
                return true;
            }
        }

        command = default;
        return false;
    }

    /// <summary>CONNECT, STOMP and CONNECTED headers are never escaped (STOMP 1.2 "Value Encoding"), for 1.0 compatibility.</summary>
    public static bool UsesHeaderEscaping(this StompCommand command) =>
        command is not (StompCommand.Connect or StompCommand.Stomp or StompCommand.Connected);
}
