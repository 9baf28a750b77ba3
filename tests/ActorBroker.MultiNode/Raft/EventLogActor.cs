using Akka.Actor;
using Akka.Persistence;

namespace ActorBroker.MultiNode.Raft;

/// <summary>
/// A minimal persistent actor for journal specs: <see cref="Append"/> persists a string and replies
/// <see cref="Appended"/> after the journal acknowledged it; <see cref="GetEvents"/> replies with every event in order
/// (what recovery replayed plus what was appended since). Persist failures stop the actor (Akka default).
/// </summary>
public sealed class EventLogActor : ReceivePersistentActor
{
    private readonly List<string> _events = [];

    public EventLogActor(string persistenceId)
    {
        PersistenceId = persistenceId;
        Recover<string>(e => _events.Add(e));
        Command<Append>(cmd => Persist(cmd.Event, e =>
        {
            _events.Add(e);
            Sender.Tell(new Appended(e, LastSequenceNr));
        }));
        Command<GetEvents>(_ => Sender.Tell(_events.ToArray()));
    }

    public override string PersistenceId { get; }

    /// <summary>Sent by a test to the actor; replied with <see cref="Appended"/> once durable.</summary>
    public sealed record Append(string Event);

    /// <summary>Reply to <see cref="Append"/>: the event and its sequence number.</summary>
    public sealed record Appended(string Event, long SequenceNr);

    /// <summary>Sent by a test; replied with the <see cref="IReadOnlyList{T}"/> of events.</summary>
    public sealed record GetEvents
    {
        public static readonly GetEvents Instance = new();
    }

    public static Props Props(string persistenceId) => Akka.Actor.Props.Create(() => new EventLogActor(persistenceId));
}

/// <summary>Test helpers around <see cref="EventLogActor"/>.</summary>
public static class EventLog
{
    /// <summary>Recovers the persistence id on <paramref name="system"/> in a fresh actor and returns its events.</summary>
    public static async Task<string[]> ReplayAsync(ActorSystem system, string persistenceId, TimeSpan timeout)
    {
        var actor = system.ActorOf(EventLogActor.Props(persistenceId));
        try
        {
            return await actor.Ask<string[]>(EventLogActor.GetEvents.Instance, timeout);
        }
        finally
        {
            system.Stop(actor);
        }
    }
}
