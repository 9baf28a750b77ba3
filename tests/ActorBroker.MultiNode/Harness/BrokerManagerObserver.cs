using System.Diagnostics;
using ActorBroker.Core.Protocol;
using Akka.Actor;

namespace ActorBroker.MultiNode.Harness;

/// <summary>
/// Records, for every node of a <see cref="MultiNodeCluster"/>, when the broker manager started (recovered, serving) and
/// stopped there, and checks the one property failover must never break: two nodes never host it at the same time.
/// </summary>
/// <remarks>
/// Events are taken synchronously on the publishing thread (a callback ref on each node's EventStream, not an actor), so
/// a node that stops its broker manager while its actor system shuts down is still recorded, in the right order.
/// </remarks>
public sealed class BrokerManagerObserver
{
    private readonly object _gate = new();
    private readonly List<HostingInterval> _intervals = [];
    private readonly List<TaskCompletionSource<HostingInterval>> _startWaiters = [];

    /// <summary>One stretch of time during which <paramref name="Node"/> hosted the broker manager.</summary>
    public sealed record HostingInterval(string Node, IActorRef Manager, long Started)
    {
        public long? Stopped { get; set; }

        public bool Overlaps(HostingInterval other) =>
            Started < (other.Stopped ?? long.MaxValue) && other.Started < (Stopped ?? long.MaxValue);

        public override string ToString() =>
            $"{Node} [{Started}..{(Stopped is { } s ? s.ToString() : "running")}]";
    }

    /// <summary>Starts recording the broker manager events of <paramref name="node"/>'s actor system.</summary>
    public void Watch(string node, ActorSystem system)
    {
        var callback = CallbackActorRef.For(system, "broker-manager-observer", message =>
        {
            switch (message)
            {
                case BrokerManagerStarted started: Started(node, started.BrokerManager); break;
                case BrokerManagerStopped: Stopped(node); break;
            }
        });
        system.EventStream.Subscribe(callback, typeof(BrokerManagerStarted));
        system.EventStream.Subscribe(callback, typeof(BrokerManagerStopped));
    }

    /// <summary>A killed node hosts nothing from now on, whether or not its stop event got out.</summary>
    public void NodeDied(string node) => Stopped(node);

    /// <summary>The node hosting the broker manager now, or null.</summary>
    public HostingInterval? CurrentHost
    {
        get
        {
            lock (_gate) return _intervals.LastOrDefault(i => i.Stopped is null);
        }
    }

    /// <summary>Every hosting interval so far, oldest first.</summary>
    public IReadOnlyList<HostingInterval> History
    {
        get
        {
            lock (_gate) return _intervals.ToList();
        }
    }

    /// <summary>Completes when a broker manager starts on a node other than <paramref name="except"/> (or the current host if it matches).</summary>
    public async Task<HostingInterval> WaitForHostAsync(TimeSpan timeout, string? except = null)
    {
        TaskCompletionSource<HostingInterval> waiter;
        lock (_gate)
        {
            var current = _intervals.LastOrDefault(i => i.Stopped is null && i.Node != except);
            if (current is not null) return current;
            waiter = new TaskCompletionSource<HostingInterval>(TaskCreationOptions.RunContinuationsAsynchronously);
            _startWaiters.Add(waiter);
        }

        while (true)
        {
            var started = await waiter.Task.WaitAsync(timeout).ConfigureAwait(false);
            if (started.Node != except) return started;
            lock (_gate)
            {
                waiter = new TaskCompletionSource<HostingInterval>(TaskCreationOptions.RunContinuationsAsynchronously);
                _startWaiters.Add(waiter);
            }
        }
    }

    /// <summary>Throws when two nodes' hosting intervals overlap in time, listing the whole history.</summary>
    public void AssertNeverTwoHosts()
    {
        lock (_gate)
        {
            for (var a = 0; a < _intervals.Count; a++)
            for (var b = a + 1; b < _intervals.Count; b++)
            {
                if (_intervals[a].Node != _intervals[b].Node && _intervals[a].Overlaps(_intervals[b]))
                    throw new Xunit.Sdk.XunitException(
                        $"two nodes hosted the broker manager at once: {_intervals[a]} and {_intervals[b]}; history: {string.Join(", ", _intervals)}");
            }
        }
    }

    private void Started(string node, IActorRef manager)
    {
        List<TaskCompletionSource<HostingInterval>> waiters;
        HostingInterval interval;
        lock (_gate)
        {
            interval = new HostingInterval(node, manager, Stopwatch.GetTimestamp());
            _intervals.Add(interval);
            waiters = _startWaiters.ToList();
            _startWaiters.Clear();
        }

        foreach (var waiter in waiters) waiter.TrySetResult(interval);
    }

    private void Stopped(string node)
    {
        lock (_gate)
        {
            foreach (var open in _intervals.Where(i => i.Node == node && i.Stopped is null))
                open.Stopped = Stopwatch.GetTimestamp();
        }
    }
}
