namespace ActorBroker.Stomp.Codec;

/// <summary>What was wrong with a client's input; each becomes an ERROR frame and a close.</summary>
public enum StompErrorKind : byte
{
    MalformedFrame = 1,
    UnknownCommand,
    InvalidEscape,
    TooManyHeaders,
    HeaderLineTooLong,
    NonUtf8Header,
    InvalidContentLength,
    MissingNulTerminator,
    FrameTooLarge,
    TruncatedFrame,
    NotConnected,
    AlreadyConnected,
    UnsupportedVersion,
    UnexpectedCommand,
    MissingHeader,
    InvalidHeader,
    UnknownSubscription,
    DuplicateSubscription,
    UnknownMessage,
    UnknownTransaction,
    DuplicateTransaction,
    TransactionTooLarge,
    BrokerRejected,
    HeartBeatTimeout,
    ConnectTimeout,
    BrokerTimeout,
    SubscriptionLost,
}

/// <summary>
/// A client broke the STOMP protocol. <see cref="Kind"/> names the rule; the message names the
/// offending value in brackets and, where useful, what would have been accepted.
/// </summary>
public sealed class StompProtocolException : Exception
{
    public StompProtocolException(StompErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    public StompErrorKind Kind { get; }
}
