namespace ActorBroker.ZooKeeper.Internal;

/// <summary>Parses the body of a reply. <paramref name="error"/> is the reply header's error when the request
/// accepts it as an answer (exists on a missing node), otherwise always <see cref="ZooKeeperErrorCode.Ok"/>.</summary>
internal delegate T ResponseParser<out T>(ZooKeeperErrorCode error, ref JuteReader reader);

/// <summary>A request written to a connection whose reply has not arrived yet.</summary>
internal abstract class PendingRequest(int xid, OpCode op, string? path, long sentTimestamp)
{
    public int Xid { get; } = xid;
    public OpCode Op { get; } = op;
    public string? Path { get; } = path;

    /// <summary>When the request was handed to the socket (Stopwatch ticks): a reply proves the server
    /// still held the session at that instant.</summary>
    public long SentTimestamp { get; } = sentTimestamp;

    /// <summary>Completes with the reply; decoding errors also propagate to the caller (the connection is then corrupt).</summary>
    public abstract void Complete(ZooKeeperErrorCode error, ref JuteReader reader);

    public abstract void Fail(Exception reason);
}

internal sealed class PendingRequest<T>(
    int xid, OpCode op, string? path, long sentTimestamp, ResponseParser<T> parser, ZooKeeperErrorCode acceptedError)
    : PendingRequest(xid, op, path, sentTimestamp)
{
    private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _cancellation;

    public Task<T> Task => _result.Task;

    /// <summary>Lets the caller stop waiting; the reply, when it comes, is still consumed and dropped.</summary>
    public void CancelWith(CancellationToken token)
    {
        if (token.CanBeCanceled) _cancellation = token.Register(() => _result.TrySetCanceled(token));
    }

    public override void Complete(ZooKeeperErrorCode error, ref JuteReader reader)
    {
        _cancellation.Dispose();
        if (error != ZooKeeperErrorCode.Ok && error != acceptedError)
        {
            _result.TrySetException(ZooKeeperException.FromServer(error, Path, Op.ToString()));
            return;
        }
        T value;
        try
        {
            value = parser(error, ref reader);
        }
        catch (ZooKeeperException e) when (e is not ZooKeeperProtocolException)
        {
            // A failure the server reported inside the body (a rolled-back multi): this request's error only.
            _result.TrySetException(e);
            return;
        }
        catch (Exception e)
        {
            _result.TrySetException(e);
            throw;
        }
        _result.TrySetResult(value);
    }

    public override void Fail(Exception reason)
    {
        _cancellation.Dispose();
        _result.TrySetException(reason);
    }
}
