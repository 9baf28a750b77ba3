using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace ActorBroker.Core.Destinations;

/// <summary>
/// The persistent actor behind a queue-like destination (<see cref="Queue"/>, <see cref="DurableSubscription"/>):
/// journals sends, acks, the dispatch mark and redeliveries around a <see cref="QueueState"/>.
/// Durability contract: <see cref="SendConfirmed"/> and <see cref="AckConfirmed"/> are sent only from persist
/// handlers; state changes of persistent messages happen in those handlers too, so a snapshot taken in a handler
/// holds exactly the events up to <see cref="Eventsourced.LastSequenceNr"/>.
/// PersistAsync lets concurrent sends and acks from many sessions group into one journal write.
/// </summary>
internal abstract class QueueActorBase : PersistentActor
{
    // Bounds one MessagesRedelivered event (8 bytes a seq); more blocked redeliveries take another event.
    private const int MaxRedeliveriesPerEvent = 4096;

    private readonly Dictionary<object, UnconfirmedSend> _unconfirmedSends = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<long, QueuedMessage> _deadLettersInFlight = new();
    private long _bytesAwaitingJournal;
    private long _lastDeadLetterCorrelation;
    private int _eventsSinceSnapshot;
    private bool _markRequested;
    private bool _redeliveriesRequested;
    private bool _snapshotInProgress;

    protected QueueActorBase(BrokerSettings settings, string persistenceId)
    {
        Settings = settings;
        PersistenceId = persistenceId;
        JournalPluginId = settings.JournalPluginId;
        SnapshotPluginId = settings.SnapshotPluginId;
    }

    public override string PersistenceId { get; }

    protected BrokerSettings Settings { get; }

    protected QueueState State { get; } = new();

    /// <summary>How log lines and rejections name this destination, e.g. "queue [orders]".</summary>
    protected abstract string Describe { get; }

    /// <summary>The dead-letter queue itself drops what it cannot deliver instead of sending it to itself.</summary>
    protected virtual bool IsDeadLetterQueue => false;

    private sealed record UnconfirmedSend(IActorRef ReplyTo, long CorrelationId, long Bytes);

    protected override bool ReceiveRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer { Snapshot: QueueSnapshot snapshot }:
                State.LoadSnapshot(snapshot);
                _eventsSinceSnapshot = 0;
                return true;
            case MessagesEnqueued e:
                State.Enqueue(e.Messages);
                _eventsSinceSnapshot++;
                return true;
            case MessagesRemoved e:
                State.Remove(e.Seqs);
                _eventsSinceSnapshot++;
                return true;
            case DispatchMarkAdvanced e:
                State.AdvanceMark(e.UpToSeq);
                _eventsSinceSnapshot++;
                return true;
            case MessagesRedelivered e:
                State.CountRedeliveries(e.Seqs);
                _eventsSinceSnapshot++;
                return true;
            case RecoveryCompleted:
                State.CompleteRecovery();
                Log.Debug("{0} recovered: {1} messages, dispatch mark {2}", Describe, State.PendingCount, State.DispatchMark);
                return true;
            default:
                return false;
        }
    }

    protected override bool ReceiveCommand(object message)
    {
        switch (message)
        {
            case Send send:
                Enqueue([send.Message], send.CorrelationId);
                return true;
            case SendBatch batch:
                Enqueue(batch.Messages, batch.CorrelationId);
                return true;
            case Subscribe subscribe:
                HandleSubscribe(subscribe);
                return true;
            case Ack ack:
                HandleAck(ack);
                return true;
            case Nack nack:
                HandleNack(nack);
                return true;
            case Unsubscribe unsubscribe:
                HandleUnsubscribe(unsubscribe);
                return true;
            case Terminated terminated:
                RemoveConsumersOf(terminated.ActorRef);
                return true;
            case SendConfirmed confirmed when _deadLettersInFlight.Remove(confirmed.CorrelationId, out var moved):
                SettleRemoval([moved], onDurable: null);
                return true;
            case SendRejected rejected when _deadLettersInFlight.Remove(rejected.CorrelationId, out var refused):
                Log.Warning("{0}: dead-letter queue refused message [{1}]: {2}; it goes back to the head", Describe, refused.Message.MessageId, rejected.Reason);
                State.Unsettle(refused);
                DispatchPending();
                return true;
            case SaveSnapshotSuccess success:
                _snapshotInProgress = false;
                DeleteMessages(success.Metadata.SequenceNr);
                DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
                SnapshotIfDue(); // events journalled while this one was being saved
                return true;
            case SaveSnapshotFailure failure:
                _snapshotInProgress = false;
                Log.Warning(failure.Cause, "{0}: saving a snapshot failed; recovery replays more events until the next one", Describe);
                return true;
            case DeleteMessagesSuccess or DeleteSnapshotsSuccess:
                return true;
            case DeleteMessagesFailure failure:
                Log.Warning(failure.Cause, "{0}: deleting journal events up to {1} failed", Describe, failure.ToSequenceNr);
                return true;
            case DeleteSnapshotsFailure failure:
                Log.Warning(failure.Cause, "{0}: deleting old snapshots failed", Describe);
                return true;
            default:
                return ReceiveOther(message);
        }
    }

    /// <summary>Messages a subclass adds to the protocol.</summary>
    protected virtual bool ReceiveOther(object message) => false;

    protected virtual void HandleSubscribe(Subscribe subscribe)
    {
        if (Sender.IsNobody()) return; // deliveries would go to dead letters and fill the prefetch forever
        if (State.FindConsumer(Sender, subscribe.SubscriptionId) is not null)
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, $"subscription id [{subscribe.SubscriptionId}] is already in use on {Describe}"));
            return;
        }
        var prefetch = subscribe.Prefetch > 0 ? subscribe.Prefetch : Settings.DefaultPrefetch;
        State.AddConsumer(new QueueConsumer(Sender, subscribe.SubscriptionId, subscribe.AckMode, prefetch));
        Context.Watch(Sender);
        Sender.Tell(new SubscribeConfirmed(subscribe.SubscriptionId));
        DispatchPending();
    }

    protected virtual void HandleUnsubscribe(Unsubscribe unsubscribe)
    {
        if (State.FindConsumer(Sender, unsubscribe.SubscriptionId) is not { } consumer) return;
        State.RemoveConsumer(consumer);
        if (!State.HasConsumersOf(Sender)) Context.Unwatch(Sender);
        DispatchPending();
    }

    private void RemoveConsumersOf(IActorRef session)
    {
        foreach (var consumer in State.Consumers.Where(c => c.Session.Equals(session)).ToList())
            State.RemoveConsumer(consumer);
        DispatchPending();
    }

    private void Enqueue(IReadOnlyList<BrokerMessage> messages, long correlationId)
    {
        var replyTo = Sender;
        var bytes = messages.Sum(m => m.ApproximateSize);
        if (State.TotalBytes + _bytesAwaitingJournal + bytes > Settings.MaxQueueBytes)
        {
            replyTo.Tell(new SendRejected(correlationId,
                $"{Describe} is full: {State.TotalBytes + _bytesAwaitingJournal} bytes held, max-queue-bytes is {Settings.MaxQueueBytes}"));
            return;
        }

        var firstSeq = State.AllocateSeqs(messages.Count);
        var entries = messages.Select((m, i) => new EnqueuedMessage(firstSeq + i, m)).ToList();
        var durable = entries.Where(e => e.Message.Persistent).ToList();
        if (durable.Count == 0)
        {
            // Nothing to journal; DeferAsync keeps the order with sends still waiting for the journal.
            DeferAsync(entries, e =>
            {
                State.Enqueue(e);
                replyTo.Tell(new SendConfirmed(correlationId));
                DispatchPending();
            });
            return;
        }

        var evt = new MessagesEnqueued(durable);
        _bytesAwaitingJournal += bytes;
        _unconfirmedSends[evt] = new UnconfirmedSend(replyTo, correlationId, bytes);
        PersistAsync(evt, e =>
        {
            _unconfirmedSends.Remove(e);
            _bytesAwaitingJournal -= bytes;
            // A batch mixing persistent and non-persistent messages becomes visible as one.
            State.Enqueue(entries);
            replyTo.Tell(new SendConfirmed(correlationId));
            AfterJournalled();
            DispatchPending();
        });
    }

    private void HandleAck(Ack ack)
    {
        var replyTo = Sender;
        if (State.FindConsumer(Sender, ack.SubscriptionId) is { } consumer)
        {
            var acked = State.Acknowledge(consumer, ack.DeliveryTags);
            SettleRemoval(acked, () => replyTo.Tell(new AckConfirmed(ack.CorrelationId)));
            DispatchPending();
        }
        else
        {
            DeferAsync(ack, _ => replyTo.Tell(new AckConfirmed(ack.CorrelationId)));
        }
    }

    private void HandleNack(Nack nack)
    {
        var replyTo = Sender;
        if (State.FindConsumer(Sender, nack.SubscriptionId) is { } consumer)
        {
            foreach (var message in State.Refuse(consumer, nack.DeliveryTags, Settings.MaxRedeliveries))
                DeadLetter(message);
            DispatchPending();
        }
        DeferAsync(nack, _ => replyTo.Tell(new AckConfirmed(nack.CorrelationId)));
    }

    private void DeadLetter(QueuedMessage message)
    {
        if (IsDeadLetterQueue)
        {
            Log.Warning("{0}: dropping message [{1}] after {2} deliveries: it is already in the dead-letter queue",
                Describe, message.Message.MessageId, message.DeliveryCount);
            SettleRemoval([message], onDurable: null);
            return;
        }

        Log.Info("{0}: message [{1}] refused after {2} deliveries, moving it to the dead-letter queue [{3}]",
            Describe, message.Message.MessageId, message.DeliveryCount, Settings.DeadLetterQueue);
        var correlationId = ++_lastDeadLetterCorrelation;
        _deadLettersInFlight[correlationId] = message;
        var original = message.Message;
        var headers = original.Headers
            .Where(h => h.Key != DeadLetterHeaders.OriginalDestination)
            .Append(new KeyValuePair<string, string>(DeadLetterHeaders.OriginalDestination, original.Destination.ToString()))
            .ToList();
        var moved = original with { Destination = Settings.DeadLetterDestination, Headers = headers };
        // The parent (broker manager) routes it to the dead-letter queue, which replies to Self.
        Context.Parent.Tell(new Send(moved, correlationId));
    }

    /// <summary>
    /// Forgets settled messages: persistent ones once their removal is journalled, the others at once.
    /// <paramref name="onDurable"/> runs after that, in order with earlier journal writes.
    /// </summary>
    private void SettleRemoval(IReadOnlyList<QueuedMessage> messages, Action? onDurable)
    {
        var durable = messages.Where(m => m.Message.Persistent).Select(m => m.Seq).ToList();
        State.Remove(messages.Where(m => !m.Message.Persistent).Select(m => m.Seq));
        if (durable.Count == 0)
        {
            if (onDurable is not null) DeferAsync(messages, _ => onDurable());
            return;
        }
        PersistAsync(new MessagesRemoved(durable), e =>
        {
            State.Remove(e.Seqs);
            onDurable?.Invoke();
            AfterJournalled();
        });
    }

    /// <summary>Delivers what consumers have room for; journals a higher dispatch mark or the redeliveries first when needed.</summary>
    protected void DispatchPending()
    {
        var deliveries = State.Dispatch(out var blockedAtSeq, out var blockedOnRedelivery);
        foreach (var d in deliveries)
        {
            d.Consumer.Session.Tell(new Deliver(d.Consumer.SubscriptionId, d.Message.Message, d.DeliveryTag,
                d.Message.Redelivered, d.Message.DeliveryCount));
        }

        if (blockedAtSeq > 0 && !_markRequested)
        {
            _markRequested = true;
            PersistAsync(new DispatchMarkAdvanced(blockedAtSeq + Settings.RedeliveryMarkWindow - 1), e =>
            {
                _markRequested = false;
                State.AdvanceMark(e.UpToSeq);
                AfterJournalled();
                DispatchPending();
            });
        }

        // Once per redelivery, so the delivery count (max-redeliveries) survives a restart. Redeliveries are
        // rare (NACK, a consumer gone), so waiting for this write costs nothing in the common path.
        if (blockedOnRedelivery && !_redeliveriesRequested)
        {
            _redeliveriesRequested = true;
            PersistAsync(new MessagesRedelivered(State.UnjournalledRedeliveries(MaxRedeliveriesPerEvent)), e =>
            {
                _redeliveriesRequested = false;
                State.CountRedeliveries(e.Seqs);
                AfterJournalled();
                DispatchPending();
            });
        }
    }

    /// <summary>Called from every persist handler: snapshot every snapshot-every events.</summary>
    private void AfterJournalled()
    {
        _eventsSinceSnapshot++;
        SnapshotIfDue();
    }

    /// <summary>
    /// Saves a snapshot when snapshot-every events were journalled since the last one. Safe in a persist handler
    /// and between commands alike: LastSequenceNr advances only as each event's handler runs, so the state
    /// always holds exactly the events up to it.
    /// </summary>
    private void SnapshotIfDue()
    {
        if (_eventsSinceSnapshot < Settings.SnapshotEvery || _snapshotInProgress) return;
        _eventsSinceSnapshot = 0;
        _snapshotInProgress = true;
        SaveSnapshot(State.ToSnapshot());
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        base.OnPersistRejected(cause, @event, sequenceNr);
        if (_unconfirmedSends.Remove(@event, out var send))
        {
            _bytesAwaitingJournal -= send.Bytes;
            send.ReplyTo.Tell(new SendRejected(send.CorrelationId, $"{Describe}: the journal rejected the message: {cause.Message}"));
        }
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The actor stops after this: every send still waiting for the journal gets an answer now.
        foreach (var send in _unconfirmedSends.Values)
            send.ReplyTo.Tell(new SendRejected(send.CorrelationId, $"{Describe}: journal write failed: {cause.Message}"));
        _unconfirmedSends.Clear();
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}

/// <summary>Headers the core adds to messages it moves.</summary>
public static class DeadLetterHeaders
{
    /// <summary>Where a dead-lettered message was sent originally (ActiveMQ's STOMP header name).</summary>
    public const string OriginalDestination = "original-destination";
}
