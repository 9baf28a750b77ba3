using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Persistence;
using Akka.Actor;
using Akka.Persistence.Journal;
using Akka.Persistence.Snapshot;

namespace ActorBroker.Tests.Core;

/// <summary>
/// Akka's in-memory journal behind a gate a spec controls: writes wait until the gate opens, or fail.
/// One gate per ActorSystem name, so parallel specs do not interfere. Like a real journal (and unlike
/// MemoryJournal) it stores what the bound serializer makes of each event, so recovery specs replay the binary format.
/// </summary>
public sealed class GatedJournal : MemoryJournal
{
    public const string PluginId = "akka.persistence.journal.gated";

    public const string ConfigText = """
        akka.persistence.journal.gated {
          class = "ActorBroker.Tests.Core.GatedJournal, ActorBroker.Tests"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        akka.persistence.snapshot-store.serializing {
          class = "ActorBroker.Tests.Core.SerializingSnapshotStore, ActorBroker.Tests"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """;

    private static readonly ConcurrentDictionary<string, JournalGate> Gates = new();

    // Captured while the actor context exists: the write continues after awaits, outside it.
    private readonly ActorSystem _system = Context.System;

    public static JournalGate GateFor(string systemName) => Gates.GetOrAdd(systemName, _ => new JournalGate());

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var gate = GateFor(_system.Name);
        gate.CountWrite();
        await gate.WaitOpenAsync().ConfigureAwait(false);
        if (gate.FailWrites) throw new IOException("injected journal write failure");
        var copies = messages.Select(w => new AtomicWrite(((IImmutableList<IPersistentRepresentation>)w.Payload)
            .Select(p => p.WithPayload(SerializationRoundTrip.Copy(_system, p.Payload)))
            .ToImmutableList()));
        return await base.WriteMessagesAsync(copies.ToList(), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Controls a <see cref="GatedJournal"/>: open (default), closed (writes wait), or failing.</summary>
public sealed class JournalGate
{
    private volatile TaskCompletionSource _open = CompletedSource();

    private int _writes;

    public volatile bool FailWrites;

    /// <summary>Journal write calls so far (each carries every event queued meanwhile: group commit).</summary>
    public int Writes => Volatile.Read(ref _writes);

    public void CountWrite() => Interlocked.Increment(ref _writes);

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

/// <summary>Akka's in-memory snapshot store, storing what the bound serializer makes of each snapshot.</summary>
public sealed class SerializingSnapshotStore : MemorySnapshotStore
{
    private readonly ActorSystem _system = Context.System;

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken) =>
        base.SaveAsync(metadata, SerializationRoundTrip.Copy(_system, snapshot), cancellationToken);
}

internal static class SerializationRoundTrip
{
    /// <summary>The object as it comes back from its bound serializer's bytes.</summary>
    public static object Copy(ActorSystem system, object value)
    {
        var serializer = system.Serialization.FindSerializerFor(value);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, value);
        return system.Serialization.Deserialize(serializer.ToBinary(value), serializer.Identifier, manifest);
    }
}
