using System.Diagnostics;
using System.Text;
using ActorBroker.Coordination;
using Akka.Coordination;
using Akka.Event;

namespace ActorBroker.ZooKeeper.Internal;

/// <summary>
/// The ZooKeeper <see cref="ILeaseStore{TVersion}"/>: the lease record is the ephemeral znode
/// <c>&lt;root-path&gt;/&lt;url-encoded lease name&gt;/lock</c>, its data "owner\nincarnation", its epoch the czxid, its
/// compare-and-set token the znode version. A record that exists is never expired: the server deletes the znode when the
/// owning session expires. Heartbeat = the lock still belongs to our live session (one read round trip proves the
/// session was alive when it was sent). One session per store, opened lazily and replaced after expiry.
/// </summary>
internal sealed class ZooKeeperLeaseStore : ILeaseStore<int>, IAsyncDisposable
{
    private const string LockNode = "lock";
    private readonly ZooKeeperLeaseSettings _settings;
    private readonly ILoggingAdapter _log;
    private readonly string _leasePath;
    private readonly string _lockPath;
    private readonly byte[] _recordData;
    private readonly SemaphoreSlim _sessionGate = new(1, 1);
    private readonly Timer _watchdog;
    private ZooKeeperClient? _client;
    private bool _parentsExist;
    private long _lastHolderActivity; // Stopwatch timestamp of the last acquire or heartbeat while held; 0 = not held
    private bool _disposed;

    public ZooKeeperLeaseStore(ZooKeeperLeaseSettings settings, string leaseName, string owner, string incarnation, ILoggingAdapter log)
    {
        _settings = settings;
        _log = log;
        Owner = owner;
        Incarnation = incarnation;
        _leasePath = $"{settings.RootPath}/{Uri.EscapeDataString(leaseName)}";
        _lockPath = $"{_leasePath}/{LockNode}";
        _recordData = Encoding.UTF8.GetBytes($"{owner}\n{incarnation}");
        _watchdog = new Timer(_ => CheckHolderAlive(), null, settings.Timing.HeartbeatInterval, settings.Timing.HeartbeatInterval);
    }

    public string Owner { get; }

    public string Incarnation { get; }

    /// <summary>The session currently used, or null (tests and diagnostics).</summary>
    internal ZooKeeperClient? SessionForTests => _client;

    public async Task<LeaseRecord<int>> ReadAsync(CancellationToken cancellationToken)
    {
        var client = await SessionAsync(cancellationToken);
        return await ReadRecordAsync(client, cancellationToken);
    }

    public async Task<CasResult<int>> TryAcquireAsync(LeaseRecord<int> seen, CancellationToken cancellationToken)
    {
        var client = await SessionAsync(cancellationToken);
        if (!seen.IsFree)
        {
            if (!seen.IsHeldBy(Owner, Incarnation) && !seen.IsExpired) return CasResult<int>.Conflict(await ReadRecordAsync(client, cancellationToken));
            // Our own lock (an earlier hold of this lease instance, maybe of an abandoned session), or the lock of a holder
            // whose process is proven gone (the caller marked it expired) before its session timed out: replace it, if
            // still at the version read, so that this acquisition gets a new, greater czxid as its epoch.
            try
            {
                await client.DeleteAsync(_lockPath, seen.Version, cancellationToken);
            }
            catch (NoNodeException)
            {
            }
            catch (BadVersionException)
            {
                return CasResult<int>.Conflict(await ReadRecordAsync(client, cancellationToken));
            }
        }

        await EnsureParentsAsync(client, cancellationToken);
        // From here the lock may exist even if no answer arrives (a lost reply, an abandoned call): count as holding,
        // so the watchdog closes the session unless heartbeats follow, instead of leaving an orphan lock behind.
        Volatile.Write(ref _lastHolderActivity, Stopwatch.GetTimestamp());
        try
        {
            var (_, stat) = await client.Create2Async(_lockPath, _recordData, CreateMode.Ephemeral, cancellationToken);
            Volatile.Write(ref _lastHolderActivity, Stopwatch.GetTimestamp());
            return CasResult<int>.Success(new LeaseRecord<int>(Owner, Incarnation, stat.Czxid, stat.Version, IsExpired: false));
        }
        catch (NodeExistsException)
        {
            Volatile.Write(ref _lastHolderActivity, 0);
            return CasResult<int>.Conflict(await ReadRecordAsync(client, cancellationToken));
        }
        catch (NoNodeException)
        {
            // The lease's parent znode was deleted behind our back: recreate it on the next attempt.
            Volatile.Write(ref _lastHolderActivity, 0);
            _parentsExist = false;
            throw;
        }
    }

    public async Task<CasResult<int>> HeartbeatAsync(LeaseRecord<int> held, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _lastHolderActivity, Stopwatch.GetTimestamp());
        var client = _client;
        if (client is null || client.State is ZooKeeperConnectionState.Expired or ZooKeeperConnectionState.Closed)
        {
            // The session that owned the lock is gone, and the lock with it: a new session cannot revive this hold.
            Volatile.Write(ref _lastHolderActivity, 0);
            return CasResult<int>.Conflict(new LeaseRecord<int>(null, null, held.Epoch, -1, IsExpired: false));
        }

        try
        {
            var node = await client.GetDataAsync(_lockPath, cancel: cancellationToken);
            if (node.Stat.EphemeralOwner == client.SessionId && node.Stat.Czxid == held.Epoch)
                return CasResult<int>.Success(held with { Version = node.Stat.Version });
            Volatile.Write(ref _lastHolderActivity, 0);
            return CasResult<int>.Conflict(ToRecord(node));
        }
        catch (NoNodeException)
        {
            Volatile.Write(ref _lastHolderActivity, 0);
            return CasResult<int>.Conflict(new LeaseRecord<int>(null, null, held.Epoch, -1, IsExpired: false));
        }
        catch (SessionExpiredException)
        {
            Volatile.Write(ref _lastHolderActivity, 0);
            return CasResult<int>.Conflict(new LeaseRecord<int>(null, null, held.Epoch, -1, IsExpired: false));
        }
    }

    public async Task<bool> ReleaseAsync(LeaseRecord<int> held, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _lastHolderActivity, 0);
        var client = _client;
        if (client is null || client.State is ZooKeeperConnectionState.Expired or ZooKeeperConnectionState.Closed) return false;
        try
        {
            var stat = await client.ExistsAsync(_lockPath, cancel: cancellationToken);
            if (stat is null || stat.EphemeralOwner != client.SessionId || stat.Czxid != held.Epoch) return false;
            await client.DeleteAsync(_lockPath, stat.Version, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is NoNodeException or BadVersionException or SessionExpiredException)
        {
            return false;
        }
        catch (Exception e)
        {
            // Unknown outcome, and this live session would keep the lock for as long as it reconnects: end the
            // session (or, if the server is unreachable, let it expire) so the lock goes within session-timeout.
            _log.Warning("ZooKeeper lease [{0}] owner [{1}]: release failed ({2}), closing session 0x{3:x} to free the lock",
                _lockPath, Owner, e.Message, client.SessionId);
            _ = client.CloseAsync();
            throw;
        }
    }

    /// <summary>Closes the session: a lock still held is deleted at once.</summary>
    public ValueTask DisposeAsync() => ShutdownAsync(endSession: true);

    /// <summary>
    /// Drops the connection but leaves the session to expire on the server, as a crash would. Used when the actor
    /// system terminates: a node that goes away without releasing is treated like a crashed one (the lock stays for
    /// session-timeout), never handed over earlier than the contract promises. Release() deletes the lock at once.
    /// </summary>
    public ValueTask AbandonAsync() => ShutdownAsync(endSession: false);

    private async ValueTask ShutdownAsync(bool endSession)
    {
        await _watchdog.DisposeAsync();
        await _sessionGate.WaitAsync();
        try
        {
            _disposed = true;
            if (_client is { } client) await (endSession ? client.CloseAsync() : client.AbandonAsync());
            _client = null;
        }
        finally
        {
            _sessionGate.Release();
        }
    }

    /// <summary>The live session, or a new one when there is none or it expired.</summary>
    private async Task<ZooKeeperClient> SessionAsync(CancellationToken cancellationToken)
    {
        var current = _client;
        if (current is { State: ZooKeeperConnectionState.Connected or ZooKeeperConnectionState.Disconnected }) return current;

        await _sessionGate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _client;
            if (current is { State: ZooKeeperConnectionState.Connected or ZooKeeperConnectionState.Disconnected }) return current;
            if (current is not null) await current.CloseAsync();
            _client = null;

            var client = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions(_settings.ConnectString, _settings.SessionTimeout)
            {
                ConnectTimeout = _settings.ConnectTimeout,
                Log = message => _log.Debug("ZooKeeper lease [{0}] owner [{1}]: {2}", _lockPath, Owner, message),
            }, cancellationToken);
            if (client.NegotiatedSessionTimeout < _settings.Timing.HeartbeatTimeout)
            {
                await client.CloseAsync();
                throw new LeaseException(
                    $"ZooKeeper granted a session timeout of {client.NegotiatedSessionTimeout.TotalMilliseconds} ms, below " +
                    $"[{ZooKeeperLeaseSettings.ConfigPath}.heartbeat-timeout] ({_settings.Timing.HeartbeatTimeout.TotalMilliseconds} ms): " +
                    "the session could expire while the holder trusts its hold; raise the server's tickTime/maxSessionTimeout or lower the TTL");
            }
            _log.Info("ZooKeeper lease [{0}] owner [{1}]: session 0x{2:x} on [{3}], timeout {4} ms", _lockPath, Owner,
                client.SessionId, client.ConnectedServer, client.NegotiatedSessionTimeout.TotalMilliseconds);
            _client = client;
            return client;
        }
        finally
        {
            _sessionGate.Release();
        }
    }

    private async Task EnsureParentsAsync(ZooKeeperClient client, CancellationToken cancellationToken)
    {
        if (_parentsExist) return;
        var path = "";
        foreach (var segment in _leasePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path += "/" + segment;
            try
            {
                await client.CreateAsync(path, Array.Empty<byte>(), CreateMode.Persistent, cancellationToken);
            }
            catch (NodeExistsException)
            {
            }
        }
        _parentsExist = true;
    }

    private async Task<LeaseRecord<int>> ReadRecordAsync(ZooKeeperClient client, CancellationToken cancellationToken)
    {
        try
        {
            return ToRecord(await client.GetDataAsync(_lockPath, cancel: cancellationToken));
        }
        catch (NoNodeException)
        {
            return new LeaseRecord<int>(null, null, 0, -1, IsExpired: false);
        }
    }

    private static LeaseRecord<int> ToRecord(ZNodeData node)
    {
        var text = Encoding.UTF8.GetString(node.Data);
        var newline = text.IndexOf('\n');
        var (owner, incarnation) = newline < 0 ? (text, "") : (text[..newline], text[(newline + 1)..]);
        return new LeaseRecord<int>(owner, incarnation, node.Stat.Czxid, node.Stat.Version, IsExpired: false);
    }

    /// <summary>
    /// The actor heart-beats every interval while it holds the lease. Silence for a whole TTL means it is starved or
    /// frozen and has already given the lease up on its own; close the session so the lock goes too, instead of
    /// blocking every other node for as long as this process keeps pinging.
    /// </summary>
    private void CheckHolderAlive()
    {
        var lastActivity = Volatile.Read(ref _lastHolderActivity);
        if (lastActivity == 0 || Stopwatch.GetElapsedTime(lastActivity) <= _settings.Timing.HeartbeatTimeout) return;
        if (Interlocked.CompareExchange(ref _lastHolderActivity, 0, lastActivity) != lastActivity) return;
        var client = _client;
        if (client is null) return;
        _log.Warning("ZooKeeper lease [{0}] owner [{1}]: no heartbeat for {2} ms, closing session 0x{3:x} to free the lock",
            _lockPath, Owner, Stopwatch.GetElapsedTime(lastActivity).TotalMilliseconds, client.SessionId);
        _ = client.CloseAsync();
    }
}
