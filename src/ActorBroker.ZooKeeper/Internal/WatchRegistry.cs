namespace ActorBroker.ZooKeeper.Internal;

/// <summary>The paths with outstanding watches, as re-registered with SetWatches after a reconnect.</summary>
internal sealed record WatchPaths(IReadOnlyCollection<string> Data, IReadOnlyCollection<string> Exist, IReadOnlyCollection<string> Child)
{
    public bool IsEmpty => Data.Count == 0 && Exist.Count == 0 && Child.Count == 0;
}

/// <summary>
/// One-shot watchers by path, with ZooKeeper's client-side semantics: a data watch is set by a successful
/// getData or exists, an exist watch by exists on a missing node, a child watch by getChildren. A
/// notification removes and returns every watcher it triggers. Thread-safe.
/// </summary>
internal sealed class WatchRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<string, List<Action<WatchedEvent>>> _data = new();
    private readonly Dictionary<string, List<Action<WatchedEvent>>> _exist = new();
    private readonly Dictionary<string, List<Action<WatchedEvent>>> _child = new();

    public void AddData(string path, Action<WatchedEvent> watcher) => Add(_data, path, watcher);
    public void AddExist(string path, Action<WatchedEvent> watcher) => Add(_exist, path, watcher);
    public void AddChild(string path, Action<WatchedEvent> watcher) => Add(_child, path, watcher);

    /// <summary>Removes and returns the watchers the server's notification triggers.</summary>
    public List<Action<WatchedEvent>> Trigger(WatchEventType type, string path)
    {
        var fired = new List<Action<WatchedEvent>>();
        lock (_lock)
        {
            switch (type)
            {
                case WatchEventType.NodeCreated:
                case WatchEventType.NodeDataChanged:
                    Take(_data, path, fired);
                    Take(_exist, path, fired);
                    break;
                case WatchEventType.NodeDeleted:
                    Take(_data, path, fired);
                    Take(_exist, path, fired);
                    Take(_child, path, fired);
                    break;
                case WatchEventType.NodeChildrenChanged:
                    Take(_child, path, fired);
                    break;
            }
        }
        return fired;
    }

    public WatchPaths Snapshot()
    {
        lock (_lock) return new WatchPaths([.. _data.Keys], [.. _exist.Keys], [.. _child.Keys]);
    }

    private void Add(Dictionary<string, List<Action<WatchedEvent>>> table, string path, Action<WatchedEvent> watcher)
    {
        lock (_lock)
        {
            if (!table.TryGetValue(path, out var list)) table[path] = list = [];
            list.Add(watcher);
        }
    }

    private static void Take(Dictionary<string, List<Action<WatchedEvent>>> table, string path, List<Action<WatchedEvent>> into)
    {
        if (table.Remove(path, out var list)) into.AddRange(list);
    }
}
