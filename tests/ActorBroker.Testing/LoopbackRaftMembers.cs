namespace ActorBroker.Testing;

/// <summary>
/// Three Raft members on free loopback ports (Raft and write-forwarding endpoints), one data directory each under
/// <c>dataRoot</c>: the <c>actorbroker.persistence.raft</c> section of each node, for specs and benchmarks that run the
/// replicas in one process. Elections are slower than the profiles' (500-1000 ms): a loaded test machine must not
/// change leaders by accident.
/// </summary>
public sealed class LoopbackRaftMembers(string dataRoot, string extraSettings = "")
{
    private readonly int[] _ports = Enumerable.Range(0, 6).Select(_ => FreePort.Next()).ToArray();

    /// <summary>The HOCON section of node 0, 1 or 2.</summary>
    public string Section(int node) => $$"""
        actorbroker.persistence.raft {
          members = ["127.0.0.1:{{_ports[0]}}", "127.0.0.1:{{_ports[1]}}", "127.0.0.1:{{_ports[2]}}"]
          forwarding-endpoints = ["127.0.0.1:{{_ports[3]}}", "127.0.0.1:{{_ports[4]}}", "127.0.0.1:{{_ports[5]}}"]
          self = "127.0.0.1:{{_ports[node]}}"
          data-dir = "{{Path.Combine(dataRoot, $"node{node}").Replace("\\", "/")}}"
          lower-election-timeout = 500ms
          upper-election-timeout = 1000ms
          request-timeout = 300ms
          {{extraSettings}}
        }
        """;
}
