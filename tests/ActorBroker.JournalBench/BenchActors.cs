using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;

namespace ActorBroker.JournalBench;

/// <summary>Sent by the benchmark to a <see cref="BenchWriter"/>; it replies <see cref="WriterDone"/> when all events are durable.</summary>
public sealed record StartWriting(int Events, int Window, byte[] Payload);

/// <summary>Reply of <see cref="BenchWriter"/>: per-event write latency (Stopwatch ticks), in completion order.</summary>
public sealed record WriterDone(long[] LatencyTicks);

/// <summary>Reply of <see cref="BenchReplayer"/> once recovery finished.</summary>
public sealed record ReplayDone(long Events);

/// <summary>
/// Writes its events with PersistAsync keeping at most <c>Window</c> in flight, so the figures are steady-state
/// throughput and per-event latency (call to durable handler), not one giant burst.
/// </summary>
public sealed class BenchWriter : UntypedPersistentActor
{
    private StartWriting? _job;
    private IActorRef _replyTo = ActorRefs.Nobody;
    private long[] _startedAt = [];
    private long[] _latency = [];
    private int _issued, _completed;

    public BenchWriter(string persistenceId) => PersistenceId = persistenceId;

    public override string PersistenceId { get; }

    protected override void OnRecover(object message) { }

    protected override void OnCommand(object message)
    {
        if (message is not StartWriting job) return;
        _job = job;
        _replyTo = Sender;
        _startedAt = new long[job.Events];
        _latency = new long[job.Events];
        for (var i = 0; i < Math.Min(job.Window, job.Events); i++) Issue();
    }

    private void Issue()
    {
        var index = _issued++;
        _startedAt[index] = Stopwatch.GetTimestamp();
        PersistAsync(_job!.Payload, _ =>
        {
            _latency[_completed++] = Stopwatch.GetTimestamp() - _startedAt[index];
            if (_issued < _job.Events) Issue();
            if (_completed == _job.Events) _replyTo.Tell(new WriterDone(_latency));
        });
    }
}

/// <summary>Recovers a writer's events and reports how many it saw.</summary>
public sealed class BenchReplayer : UntypedPersistentActor
{
    private readonly IActorRef _replyTo;
    private long _events;

    public BenchReplayer(string persistenceId, IActorRef replyTo)
    {
        PersistenceId = persistenceId;
        _replyTo = replyTo;
    }

    public override string PersistenceId { get; }

    protected override void OnRecover(object message)
    {
        if (message is RecoveryCompleted) _replyTo.Tell(new ReplayDone(_events));
        else _events++;
    }

    protected override void OnCommand(object message) { }
}
