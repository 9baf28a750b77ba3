using System.Diagnostics;
using System.Net;
using System.Threading.Channels;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>The data and metadata of a znode.</summary>
public sealed record ZNodeData(byte[] Data, ZNodeStat Stat);

/// <summary>The children of a znode and the znode's own metadata.</summary>
public sealed record ZNodeChildren(IReadOnlyList<string> Children, ZNodeStat Stat);

/// <summary>
/// A ZooKeeper client: one session kept alive across connections to the servers of the connect string.
/// When a connection drops, every pending request fails with <see cref="ConnectionLossException"/>, the state
/// becomes <see cref="ZooKeeperConnectionState.Disconnected"/> and the client resumes the same session on the
/// next server (watches are re-registered with SetWatches). A server saying the session is gone makes the
/// state <see cref="ZooKeeperConnectionState.Expired"/>, which is final. Requests made while disconnected fail
/// at once with <see cref="ConnectionLossException"/> rather than queueing: callers own their retry policy.
/// State changes and watch notifications are delivered in order on one background task.
/// </summary>
internal sealed class ZooKeeperClient : IConnectionOwner, IAsyncDisposable
{
    private static readonly TimeSpan CloseSessionTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxReconnectBackoff = TimeSpan.FromSeconds(1);

    private readonly ZooKeeperClientOptions _options;
    private readonly ConnectString _connectString;
    private readonly WatchRegistry _watches = new();
    private readonly Channel<Action> _events = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closing = new();
    private readonly object _stateLock = new();
    private TaskCompletionSource _stateSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ZooKeeperConnectionState _state = ZooKeeperConnectionState.Connecting;
    private volatile ZooKeeperConnection? _connection;
    private Task _sessionLoop = Task.CompletedTask;
    private Task? _closeTask;
    private int _nextXid;
    private long _lastZxid;
    private long _lastConfirmed;

    private ZooKeeperClient(ZooKeeperClientOptions options)
    {
        _options = options;
        _connectString = ConnectString.Parse(options.ConnectString);
        SessionId = options.SessionId;
        SessionPassword = options.SessionPassword;
        _ = Task.Run(DispatchEventsAsync);
    }

    /// <summary>Raised on every state change, in order, on the client's event task.</summary>
    public event Action<ZooKeeperConnectionState>? StateChanged;

    public ZooKeeperConnectionState State { get { lock (_stateLock) return _state; } }

    public long SessionId { get; private set; }

    public byte[] SessionPassword { get; private set; }

    /// <summary>The session timeout the server granted (it clamps the request to [2, 20] ticks).</summary>
    public TimeSpan NegotiatedSessionTimeout { get; private set; }

    /// <summary>The server of the current connection, or null while disconnected.</summary>
    public DnsEndPoint? ConnectedServer => _connection?.EndPoint;

    /// <summary>
    /// The time since the send of the latest packet a server answered within this session. The server
    /// cannot expire the session earlier than <see cref="NegotiatedSessionTimeout"/> after receiving that
    /// packet, so a holder of ephemeral nodes can tell how long they are guaranteed to exist.
    /// </summary>
    public TimeSpan SinceSessionConfirmed => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastConfirmed));

    /// <summary>Starts a session and waits until it is established on one of the servers.</summary>
    public static async Task<ZooKeeperClient> ConnectAsync(ZooKeeperClientOptions options, CancellationToken cancel = default)
    {
        var client = new ZooKeeperClient(options);
        client._sessionLoop = Task.Run(client.RunSessionAsync);
        try
        {
            await client.WaitForConnectedAsync(options.ConnectTimeout, cancel).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits until the state is Connected; throws if it becomes Expired or Closed, or on timeout.</summary>
    public async Task WaitForConnectedAsync(TimeSpan timeout, CancellationToken cancel = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout);
        while (true)
        {
            Task signal;
            lock (_stateLock)
            {
                switch (_state)
                {
                    case ZooKeeperConnectionState.Connected: return;
                    case ZooKeeperConnectionState.Expired: throw new SessionExpiredException($"Session 0x{SessionId:x} expired");
                    case ZooKeeperConnectionState.Closed: throw new ObjectDisposedException(nameof(ZooKeeperClient));
                }
                signal = _stateSignal.Task;
            }
            try
            {
                await signal.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new ConnectionLossException(
                    $"No connection to any of [{_options.ConnectString}] within [{timeout.TotalMilliseconds:F0}] ms");
            }
        }
    }

    /// <summary>Creates a znode; returns its path (with the sequence suffix for sequential modes).</summary>
    public async Task<string> CreateAsync(string path, ReadOnlyMemory<byte> data, CreateMode mode, CancellationToken cancel = default) =>
        (await Create2Async(path, data, mode, cancel).ConfigureAwait(false)).Path;

    /// <summary>Creates a znode; returns its path and its stat (czxid is the creating transaction's id).</summary>
    public Task<(string Path, ZNodeStat Stat)> Create2Async(string path, ReadOnlyMemory<byte> data, CreateMode mode, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.Create2, path, w => Requests.WriteCreate(w, serverPath, data.Span, mode),
            (ZooKeeperErrorCode _, ref JuteReader r) =>
            {
                var created = r.ReadString() ?? throw new ZooKeeperProtocolException("Create reply without a path");
                return (_connectString.FromServerPath(created), ZNodeStat.Read(ref r));
            }, cancel);
    }

    /// <summary>Deletes a znode if its version is <paramref name="version"/> (-1: any version).</summary>
    public Task DeleteAsync(string path, int version = -1, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.Delete, path, w => Requests.WritePathVersion(w, serverPath, version),
            (ZooKeeperErrorCode _, ref JuteReader _) => true, cancel);
    }

    /// <summary>The stat of a znode, or null when it does not exist. A watcher fires once on its creation,
    /// deletion or data change.</summary>
    public Task<ZNodeStat?> ExistsAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.Exists, path, w => Requests.WritePathWatch(w, serverPath, watcher is not null),
            (ZooKeeperErrorCode error, ref JuteReader r) =>
            {
                // Registered here, on the reader task, so no notification read after this reply can miss it.
                if (error == ZooKeeperErrorCode.NoNode)
                {
                    if (watcher is not null) _watches.AddExist(path, watcher);
                    return null;
                }
                var stat = ZNodeStat.Read(ref r);
                if (watcher is not null) _watches.AddData(path, watcher);
                return stat;
            }, cancel, acceptedError: ZooKeeperErrorCode.NoNode);
    }

    /// <summary>The data and stat of a znode. A watcher fires once on its data change or deletion.</summary>
    public Task<ZNodeData> GetDataAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.GetData, path, w => Requests.WritePathWatch(w, serverPath, watcher is not null),
            (ZooKeeperErrorCode _, ref JuteReader r) =>
            {
                var data = new ZNodeData(r.ReadBuffer() ?? [], ZNodeStat.Read(ref r));
                if (watcher is not null) _watches.AddData(path, watcher);
                return data;
            }, cancel);
    }

    /// <summary>Replaces the data if the version is <paramref name="version"/> (-1: any); throws
    /// <see cref="BadVersionException"/> when the compare-and-set loses.</summary>
    public Task<ZNodeStat> SetDataAsync(string path, ReadOnlyMemory<byte> data, int version = -1, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.SetData, path, w => Requests.WriteSetData(w, serverPath, data.Span, version),
            (ZooKeeperErrorCode _, ref JuteReader r) => ZNodeStat.Read(ref r), cancel);
    }

    /// <summary>The children names (unordered) and stat of a znode. A watcher fires once when a child is
    /// added or removed, or the znode is deleted.</summary>
    public Task<ZNodeChildren> GetChildrenAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancel = default)
    {
        var serverPath = _connectString.ToServerPath(path);
        return Submit(OpCode.GetChildren2, path, w => Requests.WritePathWatch(w, serverPath, watcher is not null),
            (ZooKeeperErrorCode _, ref JuteReader r) =>
            {
                var children = new ZNodeChildren(r.ReadStringVector(), ZNodeStat.Read(ref r));
                if (watcher is not null) _watches.AddChild(path, watcher);
                return children;
            }, cancel);
    }

    /// <summary>
    /// Applies all <paramref name="ops"/> atomically, or none: a failing operation throws the typed exception of its
    /// error code, naming the operation's index and path.
    /// </summary>
    public Task<List<ZooKeeperOpResult>> MultiAsync(IReadOnlyList<ZooKeeperOp> ops, CancellationToken cancel = default)
    {
        if (ops.Count == 0) return Task.FromResult(new List<ZooKeeperOpResult>());
        Func<string, string> toServer = _connectString.ToServerPath, fromServer = _connectString.FromServerPath;
        foreach (var op in ops) toServer(op.Path); // validate before anything is sent
        return Submit(OpCode.Multi, null, w => MultiCodec.WriteRequest(w, ops, toServer),
            (ZooKeeperErrorCode _, ref JuteReader r) => MultiCodec.ReadResponse(ref r, ops, fromServer), cancel);
    }

    /// <summary>Closes the session (its ephemeral nodes are deleted at once) and the connection. Idempotent.</summary>
    public Task CloseAsync() => Shutdown(endSession: true);

    /// <summary>
    /// Drops the connection without ending the session, as a crashed process would: the server keeps the session,
    /// and its ephemeral nodes, until the session timeout runs out. Idempotent (the first of close/abandon wins).
    /// </summary>
    public Task AbandonAsync() => Shutdown(endSession: false);

    public ValueTask DisposeAsync() => new(CloseAsync());

    private Task Shutdown(bool endSession)
    {
        lock (_stateLock) _closeTask ??= ShutdownCoreAsync(endSession);
        return _closeTask;
    }

    private async Task ShutdownCoreAsync(bool endSession)
    {
        var connection = _connection;
        if (endSession && connection is not null && State == ZooKeeperConnectionState.Connected)
        {
            try
            {
                await Submit(OpCode.CloseSession, null, null, (ZooKeeperErrorCode _, ref JuteReader _) => true, CancellationToken.None)
                    .WaitAsync(CloseSessionTimeout).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The server expires the session after its timeout anyway; closing is only faster.
                Log($"close of session 0x{SessionId:x} not confirmed: {e.Message}");
            }
        }
        _closing.Cancel();
        _connection?.Abort(new ConnectionLossException(endSession ? "Client closed" : "Client abandoned its session"));
        await _sessionLoop.ConfigureAwait(false);
        SetState(ZooKeeperConnectionState.Closed);
        _events.Writer.TryComplete();
    }

    private Task<T> Submit<T>(OpCode op, string? path, Action<JuteWriter>? writeBody, ResponseParser<T> parser,
        CancellationToken cancel, ZooKeeperErrorCode acceptedError = ZooKeeperErrorCode.Ok)
    {
        var connection = _connection;
        if (connection is null)
        {
            return Task.FromException<T>(State switch
            {
                ZooKeeperConnectionState.Expired => new SessionExpiredException($"{op}: session 0x{SessionId:x} expired"),
                ZooKeeperConnectionState.Closed => new ObjectDisposedException(nameof(ZooKeeperClient)),
                _ => new ConnectionLossException($"{op}{(path is null ? "" : $" [{path}]")}: not connected"),
            });
        }
        var xid = Interlocked.Increment(ref _nextXid) & int.MaxValue; // never one of the reserved negative xids
        return connection.SendAsync(xid, op, path, writeBody, parser, acceptedError, cancel);
    }

    /// <summary>Connects, waits for the connection to drop, reconnects to the next server, until closed or expired.</summary>
    private async Task RunSessionAsync()
    {
        var servers = _connectString.Servers;
        var next = Random.Shared.Next(servers.Count);
        var failuresInARow = 0;
        while (!_closing.IsCancellationRequested)
        {
            var server = servers[next];
            next = (next + 1) % servers.Count;
            ZooKeeperConnection connection;
            try
            {
                connection = await OpenAsync(server).ConfigureAwait(false);
            }
            catch (SessionExpiredException e)
            {
                Log(e.Message);
                SetState(ZooKeeperConnectionState.Expired);
                return;
            }
            catch (Exception) when (_closing.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log($"connect to [{server}] failed: {e.Message}");
                // A pause only after every server failed once: the next one may be up right away.
                if (++failuresInARow % servers.Count == 0)
                    await Delay(TimeSpan.FromMilliseconds(Math.Min(MaxReconnectBackoff.TotalMilliseconds, 50 * failuresInARow / servers.Count)));
                continue;
            }

            failuresInARow = 0;
            _connection = connection;
            if (_closing.IsCancellationRequested)
            {
                // Close started while this connection was being opened and could not see it: abort it here.
                connection.Abort(new ConnectionLossException("Client closed"));
                _connection = null;
                return;
            }
            SetState(ZooKeeperConnectionState.Connected);
            var reason = await connection.Closed.ConfigureAwait(false);
            _connection = null;
            if (_closing.IsCancellationRequested) return;
            Log($"connection to [{server}] lost: {reason.Message}");
            SetState(ZooKeeperConnectionState.Disconnected);
        }
    }

    private async Task<ZooKeeperConnection> OpenAsync(DnsEndPoint server)
    {
        var sentAt = Stopwatch.GetTimestamp();
        var lastZxid = Interlocked.Read(ref _lastZxid);
        var requested = NegotiatedSessionTimeout > TimeSpan.Zero ? NegotiatedSessionTimeout : _options.SessionTimeout;
        var attemptTimeout = TimeSpan.FromMilliseconds(Math.Max(500, requested.TotalMilliseconds / _connectString.Servers.Count));
        var (connection, response) = await ZooKeeperConnection.OpenAsync(server,
            w => Requests.WriteConnect(w, lastZxid, requested, SessionId, SessionPassword),
            _options.MaxFrameLength, attemptTimeout, _closing.Token).ConfigureAwait(false);

        if (response.SessionExpired)
        {
            connection.Abort(new SessionExpiredException("session expired"));
            throw new SessionExpiredException($"[{server}] reports session 0x{SessionId:x} expired");
        }
        if (SessionId != 0 && response.SessionId != SessionId)
        {
            connection.Abort(new ZooKeeperProtocolException("unexpected session id"));
            throw new ZooKeeperProtocolException($"[{server}] answered session 0x{SessionId:x} with session 0x{response.SessionId:x}");
        }
        if (SessionId == 0) Log($"session 0x{response.SessionId:x} established on [{server}], timeout [{response.NegotiatedTimeout.TotalMilliseconds}] ms");
        else Log($"session 0x{SessionId:x} resumed on [{server}]");

        SessionId = response.SessionId;
        SessionPassword = response.Password;
        NegotiatedSessionTimeout = response.NegotiatedTimeout;
        OnSessionConfirmed(sentAt);
        connection.Start(this, response.NegotiatedTimeout);

        // Re-arm the watches the previous connection had, before any new request can be sent: the server
        // fires at once those whose node changed after the zxid we had seen.
        var watches = _watches.Snapshot();
        if (!watches.IsEmpty)
        {
            var serverPaths = new WatchPaths(
                [.. watches.Data.Select(_connectString.ToServerPath)],
                [.. watches.Exist.Select(_connectString.ToServerPath)],
                [.. watches.Child.Select(_connectString.ToServerPath)]);
            _ = connection.SendAsync(Xids.SetWatches, OpCode.SetWatches, null,
                w => Requests.WriteSetWatches(w, lastZxid, serverPaths),
                (ZooKeeperErrorCode _, ref JuteReader _) => true, ZooKeeperErrorCode.Ok, CancellationToken.None);
        }
        return connection;
    }

    void IConnectionOwner.OnZxid(long zxid)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _lastZxid);
            if (zxid <= seen) return;
        } while (Interlocked.CompareExchange(ref _lastZxid, zxid, seen) != seen);
    }

    public void OnSessionConfirmed(long sentTimestamp)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _lastConfirmed);
            if (sentTimestamp <= seen) return;
        } while (Interlocked.CompareExchange(ref _lastConfirmed, sentTimestamp, seen) != seen);
    }

    void IConnectionOwner.OnNotification(WatchEventType type, string serverPath)
    {
        var path = _connectString.FromServerPath(serverPath);
        var watchedEvent = new WatchedEvent(type, path);
        foreach (var watcher in _watches.Trigger(type, path))
            _events.Writer.TryWrite(() => watcher(watchedEvent));
    }

    private void SetState(ZooKeeperConnectionState state)
    {
        TaskCompletionSource signal;
        lock (_stateLock)
        {
            if (_state == state || _state is ZooKeeperConnectionState.Closed) return;
            if (_state is ZooKeeperConnectionState.Expired && state is not ZooKeeperConnectionState.Closed) return;
            Log($"session 0x{SessionId:x} state [{_state} -> {state}]");
            _state = state;
            signal = _stateSignal;
            _stateSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.TrySetResult();
        _events.Writer.TryWrite(() => StateChanged?.Invoke(state));
    }

    private async Task DispatchEventsAsync()
    {
        await foreach (var deliver in _events.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                deliver();
            }
            catch (Exception e)
            {
                Log($"event handler threw: {e}");
            }
        }
    }

    private async Task Delay(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Log(string message) => _options.Log?.Invoke(message);
}
