using ActorBroker.Core.Destinations;
using ActorBroker.Core.Events;
using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace ActorBroker.Core;

/// <summary>
/// The broker: the cluster singleton's child (persistence id <c>broker-manager</c>) owning the registry of
/// destinations and durable subscriptions, and the parent of every destination actor, so the whole broker
/// moves as one unit on failover. After recovery it starts every registered destination eagerly, then publishes
/// <see cref="BrokerManagerStarted"/> on the local EventStream; PostStop publishes <see cref="BrokerManagerStopped"/>.
/// It forwards <see cref="Send"/>, <see cref="SendBatch"/> and <see cref="Subscribe"/> to the destination they name
/// (journalling it first when new), so the destination replies to the session directly.
/// </summary>
public sealed class BrokerManager : PersistentActor, IWithTimers
{
    public const string ManagerPersistenceId = "broker-manager";

    private readonly BrokerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<Destination> _destinations = new();
    private readonly Dictionary<DurableKey, string> _durables = new();
    private readonly Dictionary<Destination, IActorRef> _destinationActors = new();
    private readonly Dictionary<DurableKey, IActorRef> _durableActors = new();
    private readonly Dictionary<IActorRef, object> _keysByActor = new();
    private readonly HashSet<DurableKey> _removing = new();
    private int _eventsSinceSnapshot;
    private bool _snapshotInProgress;

    public BrokerManager(BrokerSettings settings)
    {
        _settings = settings;
        JournalPluginId = settings.JournalPluginId;
        SnapshotPluginId = settings.SnapshotPluginId;
    }

    /// <summary>Props for the singleton manager to create the broker with.</summary>
    public static Props Props(BrokerSettings settings) => Akka.Actor.Props.Create(() => new BrokerManager(settings));

    /// <summary>The message ClusterSingletonManager sends to stop the broker (hand-over, shutdown).</summary>
    public static object TerminationMessage => StopBrokerManager.Instance;

    public override string PersistenceId => ManagerPersistenceId;

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly record struct DurableKey(string ClientId, string SubscriptionName)
    {
        public override string ToString() => $"{ClientId}:{SubscriptionName}";
    }

    private sealed record RestartChild(object Key);

    protected override bool ReceiveRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer { Snapshot: RegistrySnapshot snapshot }:
                _destinations.Clear();
                _durables.Clear();
                foreach (var d in snapshot.Destinations) _destinations.Add(d);
                foreach (var d in snapshot.DurableSubscriptions) _durables[new DurableKey(d.ClientId, d.SubscriptionName)] = d.TopicName;
                return true;
            case IBrokerEvent evt:
                Apply(evt);
                _eventsSinceSnapshot++;
                return true;
            case RecoveryCompleted:
                // Eagerly: failover time includes every destination's recovery, better now than on first use.
                foreach (var destination in _destinations) EnsureStarted(destination);
                foreach (var key in _durables.Keys) EnsureStarted(key);
                _log.Info("Broker manager recovered: {0} destinations, {1} durable subscriptions started", _destinations.Count, _durables.Count);
                Context.System.EventStream.Publish(new BrokerManagerStarted(Self));
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
                Route(send.Message.Destination, send, reason => new SendRejected(send.CorrelationId, reason));
                return true;
            case SendBatch batch:
                Route(batch.Destination, batch, reason => new SendRejected(batch.CorrelationId, reason));
                return true;
            case Subscribe { Destination.Kind: DestinationKind.Topic, DurableName: not null } subscribe:
                RouteDurable(subscribe);
                return true;
            case Subscribe subscribe:
                Route(subscribe.Destination, subscribe, reason => new SubscribeRejected(subscribe.SubscriptionId, reason));
                return true;
            case RemoveDurableSubscription remove:
                RemoveDurable(new DurableKey(remove.ClientId, remove.SubscriptionName));
                return true;
            case Terminated terminated:
                ChildStopped(terminated.ActorRef);
                return true;
            case RestartChild restart:
                if (restart.Key is Destination destination && _destinations.Contains(destination)) EnsureStarted(destination);
                else if (restart.Key is DurableKey key && _durables.ContainsKey(key)) EnsureStarted(key);
                return true;
            case StopBrokerManager:
                _log.Info("Broker manager stopping on request");
                Context.Stop(Self);
                return true;
            case SaveSnapshotSuccess success:
                _snapshotInProgress = false;
                DeleteMessages(success.Metadata.SequenceNr);
                DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
                SnapshotIfDue();
                return true;
            case SaveSnapshotFailure failure:
                _snapshotInProgress = false;
                _log.Warning(failure.Cause, "Broker manager: saving a registry snapshot failed");
                return true;
            case DeleteMessagesSuccess or DeleteSnapshotsSuccess or DeleteMessagesFailure or DeleteSnapshotsFailure:
                return true;
            default:
                return false;
        }
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Publish(new BrokerManagerStopped(Self));
        base.PostStop();
    }

    private void Route(Destination destination, object command, Func<string, object> reject)
    {
        if (_destinations.Contains(destination))
        {
            EnsureStarted(destination).Forward(command);
            return;
        }
        if (RefuseNew(destination, 1) is { } reason)
        {
            Sender.Tell(reject(reason));
            return;
        }
        Persist(new DestinationCreated(destination), e =>
        {
            Apply(e);
            _log.Info("Created {0}", destination);
            EnsureStarted(destination).Forward(command);
            AfterJournalled();
        });
    }

    private void RouteDurable(Subscribe subscribe)
    {
        var topic = subscribe.Destination;
        if (string.IsNullOrEmpty(subscribe.ClientId))
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, "a durable subscription needs a client id"));
            return;
        }
        var key = new DurableKey(subscribe.ClientId, subscribe.DurableName!);
        if (_removing.Contains(key))
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, $"durable subscription [{key}] is being removed, retry"));
            return;
        }
        if (_durables.TryGetValue(key, out var topicName))
        {
            if (topicName == topic.Name)
                EnsureStarted(key).Forward(subscribe);
            else
                Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, $"durable subscription [{key}] belongs to topic [{topicName}], not [{topic.Name}]"));
            return;
        }

        var events = new List<IBrokerEvent>();
        if (!_destinations.Contains(topic)) events.Add(new DestinationCreated(topic));
        events.Add(new DurableSubscriptionCreated(key.ClientId, key.SubscriptionName, topic.Name));
        if (RefuseNew(topic, events.Count) is { } reason)
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, reason));
            return;
        }
        PersistAll(events, e =>
        {
            Apply(e);
            AfterJournalled();
            if (e is not DurableSubscriptionCreated) return;
            _log.Info("Created durable subscription [{0}] of {1}", key, topic);
            EnsureStarted(key).Forward(subscribe);
        });
    }

    private void RemoveDurable(DurableKey key)
    {
        if (!_durables.TryGetValue(key, out var topicName)) return;
        Persist(new DurableSubscriptionRemoved(key.ClientId, key.SubscriptionName), e =>
        {
            Apply(e);
            AfterJournalled();
            _log.Info("Removed durable subscription [{0}] of topic [{1}]", key, topicName);
            if (!_durableActors.TryGetValue(key, out var subscription)) return;
            _removing.Add(key);
            if (_destinationActors.TryGetValue(Destination.Topic(topicName), out var topic))
                topic.Tell(new DetachDurableSubscription(subscription));
            subscription.Tell(DeleteDurableSubscription.Instance);
        });
    }

    /// <summary>Why <paramref name="count"/> new registry entries are refused, or null when there is room.</summary>
    private string? RefuseNew(Destination destination, int count)
    {
        if (!Destination.TryParse(destination.ToString(), out _, out var error)) return error;
        if (destination == _settings.DeadLetterDestination) return null;
        var used = _destinations.Count + _durables.Count - (_destinations.Contains(_settings.DeadLetterDestination) ? 1 : 0);
        return used + count > _settings.MaxDestinations
            ? $"too many destinations: the broker holds {used}, max-destinations is {_settings.MaxDestinations}"
            : null;
    }

    private void Apply(IBrokerEvent evt)
    {
        switch (evt)
        {
            case DestinationCreated e:
                _destinations.Add(e.Destination);
                break;
            case DurableSubscriptionCreated e:
                _durables[new DurableKey(e.ClientId, e.SubscriptionName)] = e.TopicName;
                break;
            case DurableSubscriptionRemoved e:
                _durables.Remove(new DurableKey(e.ClientId, e.SubscriptionName));
                break;
        }
    }

    private IActorRef EnsureStarted(Destination destination)
    {
        if (_destinationActors.TryGetValue(destination, out var running)) return running;
        Timers.Cancel(destination);
        var props = destination.Kind == DestinationKind.Queue
            ? Queue.Props(destination.Name, _settings)
            : Topic.Props(destination.Name, _settings);
        var actor = StartChild(props, ActorNames.For(destination), destination);
        _destinationActors[destination] = actor;
        if (destination.Kind == DestinationKind.Topic)
        {
            foreach (var (key, subscription) in _durableActors)
                if (_durables.TryGetValue(key, out var topicName) && topicName == destination.Name)
                    actor.Tell(new AttachDurableSubscription(subscription));
        }
        return actor;
    }

    private IActorRef EnsureStarted(DurableKey key)
    {
        if (_durableActors.TryGetValue(key, out var running)) return running;
        Timers.Cancel(key);
        var actor = StartChild(DurableSubscription.Props(key.ClientId, key.SubscriptionName, _settings),
            ActorNames.ForDurable(key.ClientId, key.SubscriptionName), key);
        _durableActors[key] = actor;
        EnsureStarted(Destination.Topic(_durables[key])).Tell(new AttachDurableSubscription(actor));
        return actor;
    }

    private IActorRef StartChild(Props props, string name, object key)
    {
        var actor = Context.ActorOf(props, name);
        Context.Watch(actor);
        _keysByActor[actor] = key;
        return actor;
    }

    private void ChildStopped(IActorRef child)
    {
        if (!_keysByActor.Remove(child, out var key)) return;
        var registered = key switch
        {
            Destination d => _destinationActors.Remove(d) && _destinations.Contains(d),
            DurableKey k => _durableActors.Remove(k) && !_removing.Remove(k) && _durables.ContainsKey(k),
            _ => false,
        };
        if (!registered) return;
        // Typically its journal failed: retry after a pause instead of spinning on a broken store.
        _log.Warning("{0} stopped unexpectedly; restarting it in {1}", key, _settings.DestinationRestartDelay);
        Timers.StartSingleTimer(key, new RestartChild(key), _settings.DestinationRestartDelay);
    }

    private void AfterJournalled()
    {
        _eventsSinceSnapshot++;
        SnapshotIfDue();
    }

    private void SnapshotIfDue()
    {
        if (_eventsSinceSnapshot < _settings.SnapshotEvery || _snapshotInProgress) return;
        _eventsSinceSnapshot = 0;
        _snapshotInProgress = true;
        SaveSnapshot(new RegistrySnapshot(
            _destinations.ToList(),
            _durables.Select(d => new DurableSubscriptionEntry(d.Key.ClientId, d.Key.SubscriptionName, d.Value)).ToList()));
    }
}

/// <summary>
/// Singleton manager → broker manager: the termination message (hand-over, shutdown). The manager stops
/// with every destination; PostStop publishes <see cref="BrokerManagerStopped"/>. No reply.
/// </summary>
public sealed class StopBrokerManager
{
    public static readonly StopBrokerManager Instance = new();
    private StopBrokerManager() { }
}
