namespace ActorBroker.MultiNode.Harness;

/// <summary>
/// Named rendezvous points for code running concurrently on several nodes (<see cref="MultiNodeCluster.RunOnAsync"/>):
/// the in-process counterpart of the multi-node TestKit's EnterBarrier. A barrier opens when every expected
/// participant entered it, and fails every waiter when it does not open in time.
/// </summary>
public sealed class Barriers
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (int Expected, HashSet<string> Entered, TaskCompletionSource Open)> _barriers = new();

    /// <summary>
    /// <paramref name="participant"/> enters barrier <paramref name="name"/>, which opens once <paramref name="expected"/>
    /// distinct participants entered. Every participant must pass the same expected count.
    /// </summary>
    public async Task EnterAsync(string name, string participant, int expected, TimeSpan timeout)
    {
        Task open;
        lock (_gate)
        {
            if (!_barriers.TryGetValue(name, out var barrier))
            {
                barrier = (expected, new HashSet<string>(), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                _barriers[name] = barrier;
            }
            else if (barrier.Expected != expected)
            {
                throw new InvalidOperationException($"barrier [{name}]: [{participant}] expects {expected} participants, others expect {barrier.Expected}");
            }

            barrier.Entered.Add(participant);
            if (barrier.Entered.Count >= barrier.Expected) barrier.Open.TrySetResult();
            open = barrier.Open.Task;
        }

        try
        {
            await open.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            string entered;
            lock (_gate) entered = string.Join(", ", _barriers[name].Entered);
            throw new TimeoutException($"barrier [{name}] did not open within {timeout.TotalSeconds} s; entered: [{entered}] of {expected}");
        }
    }
}
