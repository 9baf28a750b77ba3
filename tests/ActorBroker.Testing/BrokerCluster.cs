namespace ActorBroker.Testing;

/// <summary>
/// One slot of a <see cref="BrokerCluster"/>: its ports and data directory stay the same across restarts of the node
/// process in it, so a restarted node is the same member an operator would restart.
/// </summary>
public sealed class ClusterNode
{
    internal ClusterNode(int index, int stompPort, int clusterPort, int raftPort, string dataDirectory)
    {
        Index = index;
        StompPort = stompPort;
        ClusterPort = clusterPort;
        RaftPort = raftPort;
        DataDirectory = dataDirectory;
    }

    public int Index { get; }
    public int StompPort { get; }
    public int ClusterPort { get; }
    public int RaftPort { get; }
    public string DataDirectory { get; }

    /// <summary>The node process now in this slot, or null when it was killed (or never started).</summary>
    public NodeProcess? Process { get; internal set; }

    /// <summary>True between <see cref="BrokerCluster.Freeze"/> and <see cref="BrokerCluster.Thaw"/>: its kernel still accepts TCP connections.</summary>
    public bool IsFrozen { get; internal set; }

    public bool IsRunning => Process is { HasExited: false };

    /// <summary>The output of the node process, or of the last one killed in this slot.</summary>
    public string Output => Process?.Output ?? LastOutput;

    internal string LastOutput { get; set; } = "";

    /// <summary>The milestone lines (role, downing, lease, Raft) of the node process, or of the last one in this slot.</summary>
    public string Milestones => Process?.Milestones ?? LastMilestones;

    internal string LastMilestones { get; set; } = "";

    public override string ToString() => $"node{Index} (stomp {StompPort}, remoting {ClusterPort}, pid {Process?.Pid.ToString() ?? "none"})";
}

/// <summary>
/// N real node processes of one <c>hocon/</c> profile on loopback, with the profile's shared resources: a temp shared
/// directory (shared-file, sql-sqlite), a PostgreSQL database (sql-postgres), a ZooKeeper server (replicated), Raft
/// ports and members (replicated, replicated-raft). Every port is picked free at runtime. A node started while others
/// run seeds from the running ones (so a restarted first node joins the existing cluster instead of forming its own);
/// the very first node seeds itself. The master is the node whose STOMP port accepts connections.
/// </summary>
public sealed class BrokerCluster : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private readonly TempDirectory _root = new("actorbroker-cluster");
    private readonly IReadOnlyDictionary<string, string> _sharedEnvironment;
    private readonly List<ClusterNode> _nodes = [];

    private BrokerCluster(string profile, int size, IReadOnlyDictionary<string, string> sharedEnvironment)
    {
        Profile = profile;
        try
        {
            for (var i = 0; i < size; i++)
            {
                var dataDirectory = _root.Combine($"node{i}");
                Directory.CreateDirectory(dataDirectory);
                _nodes.Add(new ClusterNode(i, FreePort.Next(), FreePort.Next(), FreePort.NextPair(), dataDirectory));
            }
        }
        catch
        {
            _root.Dispose(); // no port: nothing started yet, but the temp directory must not stay behind
            throw;
        }

        Directory.CreateDirectory(SharedDirectory);
        var environment = new Dictionary<string, string>(sharedEnvironment)
        {
            ["ACTORBROKER_SHARED_DIR"] = SharedDirectory,
            ["ACTORBROKER_RAFT_MEMBERS"] = string.Join(',', _nodes.Select(n => $"127.0.0.1:{n.RaftPort}")),
        };
        _sharedEnvironment = environment;
    }

    public string Profile { get; }

    public IReadOnlyList<ClusterNode> Nodes => _nodes;

    /// <summary>Every node's STOMP port, in node order: the address list a failover client rotates over.</summary>
    public IReadOnlyList<int> StompPorts => _nodes.Select(n => n.StompPort).ToArray();

    /// <summary>The directory every node is given as ACTORBROKER_SHARED_DIR (exists from construction on).</summary>
    public string SharedDirectory => _root.Combine("shared");

    /// <summary>
    /// Creates the cluster of <paramref name="size"/> nodes for <paramref name="profile"/> (e.g. "shared-file.conf") and
    /// starts it: every node at once, until one is master and every other one joined the cluster (as standby).
    /// <paramref name="postgres"/> is required by sql-postgres (a fresh database per cluster), <paramref name="zooKeeper"/>
    /// by replicated (ACTORBROKER_ZOOKEEPER).
    /// </summary>
    public static async Task<BrokerCluster> StartAsync(
        string profile, int size, PostgreSqlServer? postgres = null, ZooKeeperServer? zooKeeper = null)
    {
        var environment = new Dictionary<string, string>();
        if (postgres is not null)
            environment["ACTORBROKER_SQL_CONNECTION"] = await postgres.CreateDatabaseAsync($"cluster_{Guid.NewGuid():N}");
        if (zooKeeper is not null)
            environment["ACTORBROKER_ZOOKEEPER"] = zooKeeper.ConnectString;
        if (profile.StartsWith("sql-postgres", StringComparison.Ordinal) && postgres is null)
            throw new ArgumentException("the sql-postgres profile needs a PostgreSqlServer", nameof(postgres));

        var cluster = new BrokerCluster(profile, size, environment);
        try
        {
            // All at once: a Raft-replicated journal elects no leader (so no master) until a majority of members run.
            // node0 seeds itself; the others seed node0; the oldest member, node0, normally becomes master.
            foreach (var node in cluster._nodes)
                cluster.Start(node);
            await cluster.WaitForMasterAsync(StartTimeout);
            foreach (var node in cluster._nodes.Skip(1))
                await cluster.WaitUntilJoinedAsync(node, StartTimeout);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts) the node process in <paramref name="node"/>'s slot with the same ports and data directory.</summary>
    public NodeProcess Start(ClusterNode node)
    {
        if (node.IsRunning)
            throw new InvalidOperationException($"{node} is already running");
        if (node.Process is { } exited)
        {
            node.LastOutput = exited.Output;
            node.LastMilestones = exited.Milestones;
            exited.DisposeAsync().AsTask().GetAwaiter().GetResult(); // already exited: returns at once
        }

        var running = _nodes.Where(n => n != node && n.IsRunning).ToList();
        var seeds = running.Count > 0 ? running.Select(n => $"127.0.0.1:{n.ClusterPort}") : [$"127.0.0.1:{node.ClusterPort}"];
        var environment = new Dictionary<string, string>(_sharedEnvironment)
        {
            ["ACTORBROKER_DATA_DIR"] = node.DataDirectory,
            ["ACTORBROKER_STOMP_PORT"] = node.StompPort.ToString(),
            ["ACTORBROKER_CLUSTER_PORT"] = node.ClusterPort.ToString(),
            ["ACTORBROKER_SEED_NODES"] = string.Join(',', seeds),
            ["ACTORBROKER_RAFT_PORT"] = node.RaftPort.ToString(),
        };
        node.IsFrozen = false;
        node.Process = NodeProcess.Start(Profile, environment);
        return node.Process;
    }

    /// <summary>
    /// Waits until <paramref name="node"/> saw itself Up in the cluster (a standby in service, not yet master). "Welcome
    /// from" (joined) is not enough: a member that never saw itself Up does not count for the split-brain resolver, and
    /// if the master froze then, keep-majority made such standbys down themselves (a CI run of replicated-raft).
    /// </summary>
    public Task WaitUntilJoinedAsync(ClusterNode node, TimeSpan timeout) =>
        (node.Process ?? throw new InvalidOperationException($"{node} is not running")).WaitForOutputAsync("is up in the cluster", timeout);

    /// <summary>The running, unfrozen nodes whose STOMP port accepts connections right now.</summary>
    public async Task<IReadOnlyList<ClusterNode>> OpenNodesAsync()
    {
        var open = new List<ClusterNode>();
        foreach (var node in _nodes.Where(n => n.IsRunning && !n.IsFrozen))
        {
            if (await node.Process!.IsStompPortOpenAsync())
                open.Add(node);
        }

        return open;
    }

    /// <summary>
    /// Waits until exactly one running, unfrozen node other than <paramref name="excluding"/> has its STOMP port open,
    /// and returns it. Two open ports at once fail at once: two masters.
    /// </summary>
    public async Task<ClusterNode> WaitForMasterAsync(TimeSpan timeout, ClusterNode? excluding = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var open = (await OpenNodesAsync()).Where(n => n != excluding).ToList();
            if (open.Count > 1)
                throw new InvalidOperationException($"two masters at once: {string.Join(", ", open)}");
            if (open.Count == 1)
                return open[0];
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no master (other than {excluding?.ToString() ?? "none"}) within {timeout}\n{Diagnostics()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until <paramref name="node"/>'s STOMP port is closed; true when it closed in time.</summary>
    public static async Task<bool> WaitForPortClosedAsync(ClusterNode node, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (node.IsRunning && await node.Process!.IsStompPortOpenAsync())
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(50);
        }

        return true;
    }

    /// <summary>SIGKILL to the node's PID; returns once the process is gone. Its output stays readable via <see cref="ClusterNode.Output"/>.</summary>
    public async Task KillAsync(ClusterNode node)
    {
        var process = node.Process ?? throw new InvalidOperationException($"{node} is not running");
        process.Kill();
        node.LastOutput = process.Output;
        node.LastMilestones = process.Milestones;
        await process.DisposeAsync();
        node.Process = null;
        node.IsFrozen = false;
    }

    /// <summary>SIGSTOP: the node stops running but keeps its sockets (clients connect and then hear nothing).</summary>
    public void Freeze(ClusterNode node)
    {
        (node.Process ?? throw new InvalidOperationException($"{node} is not running")).Freeze();
        node.IsFrozen = true;
    }

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Thaw(ClusterNode node)
    {
        (node.Process ?? throw new InvalidOperationException($"{node} is not running")).Thaw();
        node.IsFrozen = false;
    }

    /// <summary>Every node's state, milestones (roles, downing, leases, Raft) and last output lines, for failure messages.</summary>
    public string Diagnostics() =>
        string.Join("\n", _nodes.Select(n =>
            $"==== {n} running={n.IsRunning} frozen={n.IsFrozen}\n-- milestones\n{Last(n.Milestones, 40)}\n-- last lines\n{Last(n.Output, 15)}"));

    private static string Last(string lines, int count) => string.Join('\n', lines.Split('\n').TakeLast(count));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (node.Process is not null)
                await node.Process.DisposeAsync();
        }

        // The store outage spec may have renamed the shared directory away: put nothing back, remove all.
        _root.Dispose();
    }
}
