using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace ActorBroker.Tests.Core;

/// <summary>
/// Akka's in-memory journal behind a gate a spec controls: writes wait until the gate opens, or fail.
/// One gate per ActorSystem name, so parallel specs do not interfere.
/// </summary>
public sealed class GatedJournal : MemoryJournal
{
    public const string PluginId = "akka.persistence.journal.gated";

    public const string ConfigText = """
        akka.persistence.journal.gated {
          class = "ActorBroker.Tests.Core.GatedJournal, ActorBroker.Tests"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """;

    private static readonly ConcurrentDictionary<string, JournalGate> Gates = new();

    public static JournalGate GateFor(string systemName) => Gates.GetOrAdd(systemName, _ => new JournalGate());

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var gate = GateFor(Context.System.Name);
        await gate.WaitOpenAsync().ConfigureAwait(false);
        if (gate.FailWrites) throw new IOException("injected journal write failure");
        return await base.WriteMessagesAsync(messages, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Controls a <see cref="GatedJournal"/>: open (default), closed (writes wait), or failing.</summary>
public sealed class JournalGate
{
    private volatile TaskCompletionSource _open = CompletedSource();

    public volatile bool FailWrites;

    public void Close() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => _open.TrySetResult();

    public Task WaitOpenAsync() => _open.Task;

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
