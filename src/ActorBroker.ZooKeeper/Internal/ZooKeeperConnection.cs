using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>Receives what a connection reads that is not the answer to a request.</summary>
internal interface IConnectionOwner
{
    /// <summary>The server's latest transaction id, carried by every reply header; sent again on reconnect so
    /// the client never attaches to a server that is behind what it has already seen.</summary>
    void OnZxid(long zxid);

    /// <summary>The server answered a packet sent at <paramref name="sentTimestamp"/>: the session was alive then.</summary>
    void OnSessionConfirmed(long sentTimestamp);

    void OnNotification(WatchEventType type, string serverPath);
}

/// <summary>
/// One TCP connection to one ZooKeeper server carrying one session: the handshake, a request writer, the
/// reply reader loop and the ping loop. When anything goes wrong it aborts, failing every pending request
/// with <see cref="ConnectionLossException"/>; the client then decides whether and where to reconnect.
/// </summary>
internal sealed class ZooKeeperConnection
{
    private readonly Socket _socket;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _pendingLock = new();
    private readonly Dictionary<int, PendingRequest> _pending = new();
    private readonly Queue<long> _pingsInFlight = new();
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _maxFrameLength;
    private Exception? _abortReason;
    private long _lastReceived;

    private ZooKeeperConnection(Socket socket, DnsEndPoint endPoint, int maxFrameLength)
    {
        _socket = socket;
        EndPoint = endPoint;
        _maxFrameLength = maxFrameLength;
        var stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(stream);
        _output = PipeWriter.Create(stream);
        _lastReceived = Stopwatch.GetTimestamp();
    }

    public DnsEndPoint EndPoint { get; }

    /// <summary>Completes (never faults) when the connection is gone, with the reason.</summary>
    public Task<Exception> Closed => _closed.Task;

    /// <summary>
    /// Connects and performs the session handshake (ConnectRequest/ConnectResponse, which have no request or
    /// reply header). Throws <see cref="ConnectionLossException"/> when the server is unreachable, does not
    /// answer in <paramref name="timeout"/> or hangs up (a server outside a quorum, or one that is behind the
    /// zxid we have seen, closes the socket); the response may say the session expired, the caller checks.
    /// </summary>
    public static async Task<(ZooKeeperConnection Connection, ConnectResponse Response)> OpenAsync(
        DnsEndPoint endPoint, Action<JuteWriter> writeConnectRequest, int maxFrameLength, TimeSpan timeout, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        ZooKeeperConnection? connection = null;
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token).ConfigureAwait(false);
            connection = new ZooKeeperConnection(socket, endPoint, maxFrameLength);
            await connection.WritePacketAsync(writeConnectRequest, deadline.Token).ConfigureAwait(false);
            var response = await connection.ReadHandshakeAsync(deadline.Token).ConfigureAwait(false);
            return (connection, response);
        }
        catch (Exception e)
        {
            if (connection is not null) await connection.DisposeTransportAsync().ConfigureAwait(false);
            else socket.Dispose();
            cancel.ThrowIfCancellationRequested();
            throw e switch
            {
                ZooKeeperException => e,
                OperationCanceledException => new ConnectionLossException($"No handshake with [{endPoint}] within [{timeout.TotalMilliseconds:F0}] ms"),
                _ => new ConnectionLossException($"Could not connect to [{endPoint}]: {e.Message}", e),
            };
        }
    }

    /// <summary>Starts the reply reader and the ping loop once the session is established.</summary>
    public void Start(IConnectionOwner owner, TimeSpan negotiatedTimeout)
    {
        _ = Task.Run(() => ReadLoopAsync(owner));
        _ = Task.Run(() => PingLoopAsync(negotiatedTimeout));
    }

    /// <summary>
    /// Registers a request, writes it and returns the task of its reply. Fails with
    /// <see cref="ConnectionLossException"/> when the connection is already aborted or aborts before the reply.
    /// </summary>
    public Task<T> SendAsync<T>(int xid, OpCode op, string? path, Action<JuteWriter>? writeBody, ResponseParser<T> parser,
        ZooKeeperErrorCode acceptedError, CancellationToken cancel)
    {
        var request = new PendingRequest<T>(xid, op, path, Stopwatch.GetTimestamp(), parser, acceptedError);
        lock (_pendingLock)
        {
            if (_abortReason is not null) return Task.FromException<T>(LossOf(op, path, _abortReason));
            _pending.Add(xid, request);
        }
        request.CancelWith(cancel);
        _ = WriteRequestAsync(xid, op, writeBody);
        return request.Task;
    }

    /// <summary>Closes the socket and fails every pending request. Idempotent; the first reason wins.</summary>
    public void Abort(Exception reason)
    {
        List<PendingRequest> orphans;
        lock (_pendingLock)
        {
            if (_abortReason is not null) return;
            _abortReason = reason;
            orphans = [.. _pending.Values];
            _pending.Clear();
        }
        _stop.Cancel();
        foreach (var request in orphans) request.Fail(LossOf(request.Op, request.Path, reason));
        // Only the socket is closed here: the reader loop may be inside ReadAsync, and a pipe must not be
        // completed concurrently with a read. The loop completes its pipe when the closed socket ends it.
        CloseSocket();
        _closed.TrySetResult(reason);
    }

    private static ConnectionLossException LossOf(OpCode op, string? path, Exception reason) =>
        reason as ConnectionLossException is { } loss && path is null
            ? loss
            : new ConnectionLossException($"{op}{(path is null ? "" : $" [{path}]")} lost its connection: {reason.Message}", reason);

    private async Task WriteRequestAsync(int xid, OpCode op, Action<JuteWriter>? writeBody)
    {
        try
        {
            await WritePacketAsync(w =>
            {
                Requests.WriteHeader(w, xid, op);
                writeBody?.Invoke(w);
            }, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Abort(new ConnectionLossException($"Write to [{EndPoint}] failed: {e.Message}", e));
        }
    }

    private async Task WritePacketAsync(Action<JuteWriter> writePacket, CancellationToken cancel)
    {
        var packet = new ArrayBufferWriter<byte>(128);
        writePacket(new JuteWriter(packet));
        await _writeLock.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            ZooKeeperFrame.WriteFrame(_output, packet.WrittenSpan);
            await _output.FlushAsync(cancel).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task<ConnectResponse> ReadHandshakeAsync(CancellationToken cancel)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancel).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                if (ZooKeeperFrame.TryReadFrame(ref buffer, _maxFrameLength, out var frame))
                {
                    var reader = new JuteReader(frame);
                    return ConnectResponse.Read(ref reader);
                }
                if (result.IsCompleted)
                    throw new ConnectionLossException(
                        $"[{EndPoint}] closed the connection during the handshake (not serving: no quorum, or behind the zxid this client has seen)");
            }
            finally
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    private async Task ReadLoopAsync(IConnectionOwner owner)
    {
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(_stop.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (ZooKeeperFrame.TryReadFrame(ref buffer, _maxFrameLength, out var frame))
                    {
                        Volatile.Write(ref _lastReceived, Stopwatch.GetTimestamp());
                        HandleFrame(owner, frame);
                    }
                    if (result.IsCompleted)
                        throw new ConnectionLossException($"[{EndPoint}] closed the connection");
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (Exception e)
        {
            Abort(e is ZooKeeperException ? e : new ConnectionLossException($"Read from [{EndPoint}] failed: {e.Message}", e));
        }
        await _input.CompleteAsync().ConfigureAwait(false);
    }

    private void HandleFrame(IConnectionOwner owner, ReadOnlySequence<byte> frame)
    {
        var reader = new JuteReader(frame);
        var header = ReplyHeader.Read(ref reader);
        if (header.Zxid > 0) owner.OnZxid(header.Zxid);
        switch (header.Xid)
        {
            case Xids.Ping:
                long sent;
                lock (_pendingLock)
                    if (!_pingsInFlight.TryDequeue(out sent)) throw new ZooKeeperProtocolException("Ping reply without a ping in flight");
                owner.OnSessionConfirmed(sent);
                return;
            case Xids.WatchNotification:
                var type = (WatchEventType)reader.ReadInt();
                reader.ReadInt(); // keeper state: connection state is tracked by the client itself
                var path = reader.ReadString() ?? throw new ZooKeeperProtocolException("Watch notification without a path");
                owner.OnNotification(type, path);
                return;
            case Xids.SetWatches:
                return;
        }

        PendingRequest? request;
        lock (_pendingLock) _pending.Remove(header.Xid, out request);
        if (request is null) throw new ZooKeeperProtocolException($"Reply for unknown xid [{header.Xid}]");
        if (header.Err != ZooKeeperErrorCode.SessionExpired) owner.OnSessionConfirmed(request.SentTimestamp);
        request.Complete(header.Err, ref reader);
    }

    private async Task PingLoopAsync(TimeSpan negotiatedTimeout)
    {
        // Like ZooKeeper's own client: ping every third of the session timeout, and give up on a server
        // that said nothing for two thirds of it, leaving a third to reach another server in time.
        var readTimeout = negotiatedTimeout * 2 / 3;
        using var timer = new PeriodicTimer(negotiatedTimeout / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var silent = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastReceived));
                if (silent > readTimeout)
                {
                    Abort(new ConnectionLossException($"[{EndPoint}] silent for [{silent.TotalMilliseconds:F0}] ms (limit [{readTimeout.TotalMilliseconds:F0}] ms)"));
                    return;
                }
                lock (_pendingLock) _pingsInFlight.Enqueue(Stopwatch.GetTimestamp());
                await WritePacketAsync(w => Requests.WriteHeader(w, Xids.Ping, OpCode.Ping), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Abort(new ConnectionLossException($"Ping to [{EndPoint}] failed: {e.Message}", e));
        }
    }

    private async Task DisposeTransportAsync()
    {
        CloseSocket();
        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
    }

    private void CloseSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // already closed by the peer; nothing left to shut down
        }
        _socket.Dispose();
    }
}
