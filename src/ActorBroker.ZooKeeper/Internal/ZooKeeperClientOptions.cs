namespace ActorBroker.ZooKeeper.Internal;

/// <summary>How a <see cref="ZooKeeperClient"/> connects. Immutable.</summary>
internal sealed record ZooKeeperClientOptions(string ConnectString, TimeSpan SessionTimeout)
{
    /// <summary>How long <see cref="ZooKeeperClient.ConnectAsync"/> tries the servers before giving up.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest frame accepted from a server; ZooKeeper's own jute.maxbuffer defaults to 1 MiB of data.</summary>
    public int MaxFrameLength { get; init; } = 4 * 1024 * 1024;

    /// <summary>Resume this existing session instead of creating one (0 = new session).</summary>
    public long SessionId { get; init; }

    /// <summary>The password of <see cref="SessionId"/>.</summary>
    public byte[] SessionPassword { get; init; } = [];

    /// <summary>Diagnostics sink for connection events (the lease routes it to the Akka log).</summary>
    public Action<string>? Log { get; init; }
}
