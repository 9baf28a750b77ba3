namespace ActorBroker.Tests.ZooKeeper;

/// <summary>Collects events raised on other threads and lets a test await one matching a condition.</summary>
internal sealed class Recorder<T>
{
    private readonly object _lock = new();
    private readonly List<T> _seen = [];
    private readonly List<(Func<T, bool> Match, TaskCompletionSource<T> Done)> _waiters = [];

    public IReadOnlyList<T> Seen { get { lock (_lock) return [.. _seen]; } }

    public void Add(T item)
    {
        lock (_lock)
        {
            _seen.Add(item);
            foreach (var waiter in _waiters.Where(w => w.Match(item)).ToList())
            {
                waiter.Done.TrySetResult(item);
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Returns the first event (already seen or future) matching <paramref name="match"/>; throws on timeout.</summary>
    public Task<T> WaitFor(Func<T, bool> match, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var index = _seen.FindIndex(item => match(item));
            if (index >= 0) return Task.FromResult(_seen[index]);
            _waiters.Add((match, done));
        }
        return Within(done.Task, timeout, what);
    }

    private async Task<T> Within(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No {what} within {timeout}; seen: [{string.Join(", ", Seen)}]");
        }
    }
}
