using System.Text;
using ActorBroker.Testing;
using ActorBroker.ZooKeeper;
using ActorBroker.ZooKeeper.Internal;
using Xunit;

namespace ActorBroker.Tests.ZooKeeper;

/// <summary>The client against a real ZooKeeper 3.8 server: session, CRUD, CAS, ephemerals, watches, expiry.</summary>
[Collection(ZooKeeperCollection.Name)]
public sealed class ZooKeeperClientSpec(ZooKeeperServerFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(4);
    private readonly string _ns = ZooKeeperServer.NewNamespace("client");
    private readonly List<IAsyncDisposable> _cleanup = [];
    private ZooKeeperClient _client = null!;

    public async Task InitializeAsync()
    {
        _client = await Connect(fixture.Server.ConnectString);
        await _client.CreateAsync(_ns, Array.Empty<byte>(), CreateMode.Persistent);
    }

    public async Task DisposeAsync()
    {
        foreach (var item in Enumerable.Reverse(_cleanup)) await item.DisposeAsync();
    }

    [Fact(DisplayName = "A client establishes a session with an id, a password and the negotiated timeout")]
    public void EstablishesSession()
    {
        Assert.Equal(ZooKeeperConnectionState.Connected, _client.State);
        Assert.NotEqual(0, _client.SessionId);
        Assert.Equal(16, _client.SessionPassword.Length);
        Assert.Equal(SessionTimeout, _client.NegotiatedSessionTimeout);
        Assert.Equal(fixture.Server.ClientPort, _client.ConnectedServer!.Port);
    }

    [Fact(DisplayName = "Create, get, set, exists, children and delete round-trip data and stats")]
    public async Task CrudRoundTrip()
    {
        var path = $"{_ns}/node";
        var (created, createdStat) = await _client.Create2Async(path, Bytes("one"), CreateMode.Persistent);
        Assert.Equal(path, created);
        Assert.Equal(0, createdStat.Version);

        var read = await _client.GetDataAsync(path);
        Assert.Equal("one", Encoding.UTF8.GetString(read.Data));
        Assert.Equal(createdStat.Czxid, read.Stat.Czxid);

        var updated = await _client.SetDataAsync(path, Bytes("two"), version: 0);
        Assert.Equal(1, updated.Version);
        Assert.Equal("two", Encoding.UTF8.GetString((await _client.GetDataAsync(path)).Data));

        await _client.CreateAsync($"{path}/a", Bytes(""), CreateMode.Persistent);
        await _client.CreateAsync($"{path}/b", Bytes(""), CreateMode.Persistent);
        var children = await _client.GetChildrenAsync(path);
        Assert.Equal(["a", "b"], children.Children.Order());
        Assert.Equal(2, children.Stat.NumChildren);

        await Assert.ThrowsAsync<NodeExistsException>(() => _client.CreateAsync(path, Bytes(""), CreateMode.Persistent));
        await Assert.ThrowsAsync<NotEmptyException>(() => _client.DeleteAsync(path));
        await Assert.ThrowsAsync<NoNodeException>(() => _client.CreateAsync($"{_ns}/missing/child", Bytes(""), CreateMode.Persistent));

        await _client.DeleteAsync($"{path}/a");
        await _client.DeleteAsync($"{path}/b");
        await _client.DeleteAsync(path);
        Assert.Null(await _client.ExistsAsync(path));
        await Assert.ThrowsAsync<NoNodeException>(() => _client.GetDataAsync(path));
        await Assert.ThrowsAsync<NoNodeException>(() => _client.DeleteAsync(path));
    }

    [Fact(DisplayName = "Sequential modes append increasing counters and ephemeral nodes belong to the session")]
    public async Task SequentialAndEphemeralModes()
    {
        var first = await _client.CreateAsync($"{_ns}/seq-", Bytes(""), CreateMode.PersistentSequential);
        var second = await _client.CreateAsync($"{_ns}/seq-", Bytes(""), CreateMode.EphemeralSequential);
        Assert.Matches(@"/seq-\d{10}$", first);
        Assert.True(string.CompareOrdinal(first, second) < 0, $"{first} should sort before {second}");

        var ephemeral = await _client.Create2Async($"{_ns}/eph", Bytes(""), CreateMode.Ephemeral);
        Assert.Equal(_client.SessionId, ephemeral.Stat.EphemeralOwner);
        Assert.Equal(_client.SessionId, (await _client.ExistsAsync(second))!.EphemeralOwner);
        Assert.Equal(0, (await _client.ExistsAsync(first))!.EphemeralOwner);
    }

    [Fact(DisplayName = "A set or delete with a stale version fails with BadVersion and changes nothing")]
    public async Task VersionCompareAndSet()
    {
        var path = $"{_ns}/cas";
        await _client.CreateAsync(path, Bytes("v0"), CreateMode.Persistent);
        await _client.SetDataAsync(path, Bytes("v1"), version: 0);

        var conflict = await Assert.ThrowsAsync<BadVersionException>(() => _client.SetDataAsync(path, Bytes("lost"), version: 0));
        Assert.Equal(ZooKeeperErrorCode.BadVersion, conflict.Code);
        Assert.Equal(path, conflict.Path);
        await Assert.ThrowsAsync<BadVersionException>(() => _client.DeleteAsync(path, version: 0));

        var current = await _client.GetDataAsync(path);
        Assert.Equal("v1", Encoding.UTF8.GetString(current.Data));
        await _client.DeleteAsync(path, current.Stat.Version);
    }

    [Fact(DisplayName = "A multi applies all its operations atomically, or none with the failing one's typed error")]
    public async Task MultiIsAtomic()
    {
        var results = await _client.MultiAsync(
        [
            new ZooKeeperOp.Create($"{_ns}/m", Bytes("0"), CreateMode.Persistent),
            new ZooKeeperOp.Create($"{_ns}/m/child", Bytes(""), CreateMode.Ephemeral),
            new ZooKeeperOp.SetData($"{_ns}/m", Bytes("1"), Version: 0),
            new ZooKeeperOp.Check($"{_ns}/m", Version: 1),
        ]);
        Assert.Equal([ZooKeeperOpKind.Create, ZooKeeperOpKind.Create, ZooKeeperOpKind.SetData, ZooKeeperOpKind.Check], results.Select(r => r.Op));
        Assert.Equal($"{_ns}/m/child", results[1].Path);
        Assert.Equal(_client.SessionId, (await _client.ExistsAsync($"{_ns}/m/child"))!.EphemeralOwner);
        Assert.Equal(1, results[2].Stat!.Version);

        var failure = await Assert.ThrowsAsync<BadVersionException>(() => _client.MultiAsync(
        [
            new ZooKeeperOp.Delete($"{_ns}/m/child"),
            new ZooKeeperOp.Check($"{_ns}/m", Version: 0),
        ]));
        Assert.Equal($"{_ns}/m", failure.Path);
        Assert.NotNull(await _client.ExistsAsync($"{_ns}/m/child")); // the delete before the failed check was rolled back
    }

    [Fact(DisplayName = "Closing a session deletes its ephemeral nodes at once")]
    public async Task EphemeralRemovedAfterClose()
    {
        var owner = await Connect(fixture.Server.ConnectString);
        await owner.CreateAsync($"{_ns}/eph", Bytes(""), CreateMode.Ephemeral);
        Assert.NotNull(await _client.ExistsAsync($"{_ns}/eph"));

        await owner.CloseAsync();

        Assert.Equal(ZooKeeperConnectionState.Closed, owner.State);
        Assert.Null(await _client.ExistsAsync($"{_ns}/eph"));
    }

    [Fact(DisplayName = "One-shot watches fire on data change, creation, deletion and a new child, once each")]
    public async Task WatchesFire()
    {
        var events = new Recorder<WatchedEvent>();
        var other = await Connect(fixture.Server.ConnectString);
        var path = $"{_ns}/watched";

        Assert.Null(await _client.ExistsAsync(path, events.Add));
        await other.CreateAsync(path, Bytes("a"), CreateMode.Persistent);
        await events.WaitFor(e => e is { Type: WatchEventType.NodeCreated } && e.Path == path, Patience, "NodeCreated");

        await _client.GetDataAsync(path, events.Add);
        await other.SetDataAsync(path, Bytes("b"));
        await events.WaitFor(e => e.Type == WatchEventType.NodeDataChanged, Patience, "NodeDataChanged");

        await _client.GetChildrenAsync(path, events.Add);
        await other.CreateAsync($"{path}/child", Bytes(""), CreateMode.Persistent);
        await events.WaitFor(e => e.Type == WatchEventType.NodeChildrenChanged, Patience, "NodeChildrenChanged");

        await _client.ExistsAsync(path, events.Add);
        await other.DeleteAsync($"{path}/child");
        await other.DeleteAsync(path);
        await events.WaitFor(e => e.Type == WatchEventType.NodeDeleted, Patience, "NodeDeleted");

        // A fenced marker: a fresh watch that fires proves every earlier notification was delivered (in order).
        await other.CreateAsync(path, Bytes(""), CreateMode.Persistent);
        await _client.GetDataAsync(path, events.Add);
        await other.SetDataAsync(path, Bytes("marker"));
        await events.WaitFor(e => e.Type == WatchEventType.NodeDataChanged && events.Seen.Count == 5, Patience, "marker");
        Assert.Equal(
            [WatchEventType.NodeCreated, WatchEventType.NodeDataChanged, WatchEventType.NodeChildrenChanged, WatchEventType.NodeDeleted, WatchEventType.NodeDataChanged],
            events.Seen.Select(e => e.Type));
    }

    [Fact(DisplayName = "A chroot in the connect string confines the client to its subtree")]
    public async Task ChrootConfinesPaths()
    {
        var rooted = await Connect(fixture.Server.ConnectString + _ns);
        var events = new Recorder<WatchedEvent>();

        Assert.Equal("/inner", await rooted.CreateAsync("/inner", Bytes("x"), CreateMode.Persistent));
        Assert.NotNull(await _client.ExistsAsync($"{_ns}/inner"));
        await rooted.GetDataAsync("/inner", events.Add);
        await _client.SetDataAsync($"{_ns}/inner", Bytes("y"));

        var fired = await events.WaitFor(_ => true, Patience, "watch under chroot");
        Assert.Equal("/inner", fired.Path);
        Assert.Equal(["inner"], (await rooted.GetChildrenAsync("/")).Children);
    }

    [Fact(DisplayName = "Requests pending when the connection drops fail with ConnectionLoss and the session resumes")]
    public async Task PendingRequestsFailOnDisconnect()
    {
        var proxy = Track(new TcpFaultProxy(fixture.Server.ClientPort));
        var states = new Recorder<ZooKeeperConnectionState>();
        var client = await Connect(proxy.ConnectString, states);
        var sessionId = client.SessionId;

        proxy.Freeze();
        var pending = client.GetDataAsync(_ns);
        proxy.Cut();

        await Assert.ThrowsAsync<ConnectionLossException>(() => pending.WaitAsync(Patience));
        await states.WaitFor(s => s == ZooKeeperConnectionState.Disconnected, Patience, "Disconnected");
        await Assert.ThrowsAsync<ConnectionLossException>(() => client.GetDataAsync(_ns));

        proxy.Restore();
        await client.WaitForConnectedAsync(Patience);
        Assert.Equal(sessionId, client.SessionId);
        Assert.NotNull(await client.ExistsAsync(_ns));
    }

    [Fact(DisplayName = "A server that stops answering is given up after two thirds of the session timeout and the session resumes")]
    public async Task SilentServerIsAbandoned()
    {
        var proxy = Track(new TcpFaultProxy(fixture.Server.ClientPort));
        var states = new Recorder<ZooKeeperConnectionState>();
        var client = await Connect(proxy.ConnectString, states, TimeSpan.FromSeconds(3));
        var sessionId = client.SessionId;

        var frozenAt = DateTime.UtcNow;
        proxy.Freeze(); // the TCP connection stays open, nothing comes back: only the ping deadline can notice
        await states.WaitFor(s => s == ZooKeeperConnectionState.Disconnected, Patience, "Disconnected");
        var noticed = DateTime.UtcNow - frozenAt;
        // Silence is checked on each ping tick (every third of the timeout) against a two-thirds deadline.
        Assert.InRange(noticed, TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3) + TimeSpan.FromSeconds(2));

        proxy.Restore();
        await client.WaitForConnectedAsync(Patience);
        Assert.Equal(sessionId, client.SessionId);
    }

    [Fact(DisplayName = "A session closed elsewhere (same id and password) is reported as expired on reconnect")]
    public async Task ExpiryIsSurfaced()
    {
        var proxy = Track(new TcpFaultProxy(fixture.Server.ClientPort));
        var states = new Recorder<ZooKeeperConnectionState>();
        var victim = await Connect(proxy.ConnectString, states);
        await victim.CreateAsync($"{_ns}/victim", Bytes(""), CreateMode.Ephemeral);

        proxy.Cut();
        await states.WaitFor(s => s == ZooKeeperConnectionState.Disconnected, Patience, "Disconnected");
        var impostor = await Connect(fixture.Server.ConnectString, sessionId: victim.SessionId, password: victim.SessionPassword);
        Assert.Equal(victim.SessionId, impostor.SessionId);
        await impostor.CloseAsync();
        Assert.Null(await _client.ExistsAsync($"{_ns}/victim"));

        proxy.Restore();
        await states.WaitFor(s => s == ZooKeeperConnectionState.Expired, Patience, "Expired");
        await Assert.ThrowsAsync<SessionExpiredException>(() => victim.GetDataAsync(_ns));
        await Assert.ThrowsAsync<SessionExpiredException>(() => victim.WaitForConnectedAsync(Patience));
    }

    [Fact(DisplayName = "A session whose client is silent longer than the timeout expires on the server")]
    public async Task SilentSessionExpires()
    {
        var proxy = Track(new TcpFaultProxy(fixture.Server.ClientPort));
        var states = new Recorder<ZooKeeperConnectionState>();
        var victim = await Connect(proxy.ConnectString, states, TimeSpan.FromSeconds(1));
        await victim.CreateAsync($"{_ns}/silent", Bytes(""), CreateMode.Ephemeral);

        proxy.Freeze();
        await PollUntil(async () => await _client.ExistsAsync($"{_ns}/silent") is null, Patience, "ephemeral of the silent session gone");

        proxy.Restore();
        await states.WaitFor(s => s == ZooKeeperConnectionState.Expired, Patience, "Expired");
    }

    private async Task<ZooKeeperClient> Connect(
        string connectString, Recorder<ZooKeeperConnectionState>? states = null, TimeSpan? timeout = null,
        long sessionId = 0, byte[]? password = null)
    {
        var options = new ZooKeeperClientOptions(connectString, timeout ?? SessionTimeout)
        {
            ConnectTimeout = Patience,
            SessionId = sessionId,
            SessionPassword = password ?? [],
        };
        var client = await ZooKeeperClient.ConnectAsync(options);
        if (states is not null) client.StateChanged += states.Add;
        return Track(client);
    }

    private T Track<T>(T disposable) where T : IAsyncDisposable
    {
        _cleanup.Add(disposable);
        return disposable;
    }

    internal static async Task PollUntil(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Not {what} within {timeout}");
            await Task.Delay(50);
        }
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
