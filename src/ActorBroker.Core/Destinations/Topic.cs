using ActorBroker.Core.Protocol;
using Akka.Actor;
using Akka.Event;

namespace ActorBroker.Core.Destinations;

/// <summary>
/// A publish/subscribe topic. Not persistent itself: it fans each publication out to the current
/// non-durable subscribers and to its durable subscriptions (attached by the broker manager), which journal
/// what they keep. A send is confirmed, and delivered to live subscribers, once every durable subscription
/// confirmed it (at once when there is none, so then nothing is journalled). Publications complete in order.
/// If a durable subscription rejects a send (full) the producer gets <see cref="SendRejected"/>, though other
/// durable subscriptions may keep the message: a retry can duplicate it there (at-least-once).
/// </summary>
internal sealed class Topic : ReceiveActor
{
    private readonly string _name;
    private readonly Destination _destination;
    private readonly BrokerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<TopicSubscriber> _subscribers = new();
    private readonly HashSet<IActorRef> _durableSubscriptions = new();
    private readonly LinkedList<Publication> _publications = new();
    private readonly Dictionary<long, Publication> _publicationsById = new();
    private long _lastPublicationId;
    private long _lastDeliveryTag;

    public Topic(string name, BrokerSettings settings)
    {
        _name = name;
        _destination = Destination.Topic(name);
        _settings = settings;

        Receive<Send>(send => Publish([send.Message], send.CorrelationId));
        Receive<SendBatch>(batch => Publish(batch.Messages, batch.CorrelationId));
        Receive<SendConfirmed>(confirmed => DurableReplied(confirmed.CorrelationId, failure: null));
        Receive<SendRejected>(rejected => DurableReplied(rejected.CorrelationId, rejected.Reason));
        Receive<Subscribe>(HandleSubscribe);
        Receive<Unsubscribe>(unsubscribe => RemoveSubscribers(Sender, s => s.SubscriptionId == unsubscribe.SubscriptionId));
        Receive<Ack>(ack => Settle(ack.SubscriptionId, ack.DeliveryTags, ack.CorrelationId));
        // A topic does not redeliver to non-durable subscribers: a NACK just frees the prefetch slot.
        Receive<Nack>(nack => Settle(nack.SubscriptionId, nack.DeliveryTags, nack.CorrelationId));
        Receive<AttachDurableSubscription>(attach =>
        {
            _durableSubscriptions.Add(attach.Subscription);
            Context.Watch(attach.Subscription);
        });
        Receive<DetachDurableSubscription>(detach => ForgetDurable(detach.Subscription, failure: null));
        Receive<Terminated>(terminated =>
        {
            if (_durableSubscriptions.Contains(terminated.ActorRef))
                ForgetDurable(terminated.ActorRef, $"durable subscription {terminated.ActorRef.Path.Name} stopped before storing the message");
            else
                RemoveSubscribers(terminated.ActorRef, _ => true);
        });
    }

    public static Props Props(string name, BrokerSettings settings) => Akka.Actor.Props.Create(() => new Topic(name, settings));

    private sealed class Publication(IReadOnlyList<BrokerMessage> messages, long correlationId, IActorRef producer, HashSet<IActorRef> awaiting)
    {
        public IReadOnlyList<BrokerMessage> Messages { get; } = messages;
        public long CorrelationId { get; } = correlationId;
        public IActorRef Producer { get; } = producer;
        public HashSet<IActorRef> Awaiting { get; } = awaiting;
        public string? Failure { get; set; }
    }

    private sealed class TopicSubscriber(IActorRef session, string subscriptionId, int prefetch)
    {
        public IActorRef Session { get; } = session;
        public string SubscriptionId { get; } = subscriptionId;
        public int Prefetch { get; } = prefetch;
        public HashSet<long> InFlight { get; } = new();
        public Queue<BrokerMessage> Backlog { get; } = new();
        public long Dropped { get; set; }
    }

    private void Publish(IReadOnlyList<BrokerMessage> messages, long correlationId)
    {
        var publication = new Publication(messages, correlationId, Sender, new HashSet<IActorRef>(_durableSubscriptions));
        _publications.AddLast(publication);
        if (publication.Awaiting.Count > 0)
        {
            var id = ++_lastPublicationId;
            _publicationsById[id] = publication;
            var batch = new SendBatch(_destination, messages, id);
            foreach (var durable in publication.Awaiting) durable.Tell(batch);
        }
        CompleteReadyPublications();
    }

    private void DurableReplied(long publicationId, string? failure)
    {
        if (!_publicationsById.TryGetValue(publicationId, out var publication)) return;
        publication.Awaiting.Remove(Sender);
        if (failure is not null) publication.Failure ??= failure;
        if (publication.Awaiting.Count == 0) _publicationsById.Remove(publicationId);
        CompleteReadyPublications();
    }

    private void ForgetDurable(IActorRef durable, string? failure)
    {
        _durableSubscriptions.Remove(durable);
        Context.Unwatch(durable);
        foreach (var publication in _publications)
        {
            if (publication.Awaiting.Remove(durable) && failure is not null) publication.Failure ??= failure;
        }
        CompleteReadyPublications();
    }

    private void CompleteReadyPublications()
    {
        while (_publications.First is { } head && head.Value.Awaiting.Count == 0)
        {
            _publications.RemoveFirst();
            var publication = head.Value;
            if (publication.Failure is not null)
            {
                publication.Producer.Tell(new SendRejected(publication.CorrelationId, $"topic [{_name}]: {publication.Failure}"));
                continue;
            }
            foreach (var message in publication.Messages)
            foreach (var subscriber in _subscribers)
                Offer(subscriber, message);
            publication.Producer.Tell(new SendConfirmed(publication.CorrelationId));
        }
    }

    private void HandleSubscribe(Subscribe subscribe)
    {
        if (Sender.IsNobody()) return;
        if (_subscribers.Exists(s => s.Session.Equals(Sender) && s.SubscriptionId == subscribe.SubscriptionId))
        {
            Sender.Tell(new SubscribeRejected(subscribe.SubscriptionId, $"subscription id [{subscribe.SubscriptionId}] is already in use on topic [{_name}]"));
            return;
        }
        var prefetch = subscribe.Prefetch > 0 ? subscribe.Prefetch : _settings.DefaultPrefetch;
        _subscribers.Add(new TopicSubscriber(Sender, subscribe.SubscriptionId, prefetch));
        Context.Watch(Sender);
        Sender.Tell(new SubscribeConfirmed(subscribe.SubscriptionId));
    }

    private void RemoveSubscribers(IActorRef session, Predicate<TopicSubscriber> match)
    {
        _subscribers.RemoveAll(s => s.Session.Equals(session) && match(s));
        if (!_subscribers.Exists(s => s.Session.Equals(session))) Context.Unwatch(session);
    }

    private void Settle(string subscriptionId, IReadOnlyList<long> deliveryTags, long correlationId)
    {
        var subscriber = _subscribers.Find(s => s.Session.Equals(Sender) && s.SubscriptionId == subscriptionId);
        if (subscriber is not null)
        {
            foreach (var tag in deliveryTags) subscriber.InFlight.Remove(tag);
            while (subscriber.InFlight.Count < subscriber.Prefetch && subscriber.Backlog.TryDequeue(out var next))
                Deliver(subscriber, next);
        }
        // Nothing is journalled for non-durable subscribers: the ack is as durable as it gets.
        Sender.Tell(new AckConfirmed(correlationId));
    }

    private void Offer(TopicSubscriber subscriber, BrokerMessage message)
    {
        if (subscriber.InFlight.Count < subscriber.Prefetch && subscriber.Backlog.Count == 0)
        {
            Deliver(subscriber, message);
            return;
        }
        subscriber.Backlog.Enqueue(message);
        if (subscriber.Backlog.Count <= _settings.TopicPendingLimit) return;

        var dropped = subscriber.Backlog.Dequeue();
        subscriber.Dropped++;
        // Log the first drop and then every thousandth, so a stuck subscriber cannot flood the log.
        if (subscriber.Dropped % 1000 == 1)
        {
            _log.Warning("topic [{0}]: subscriber [{1}] of {2} is slow; dropped its oldest pending message [{3}] ({4} dropped so far, topic-pending-limit is {5})",
                _name, subscriber.SubscriptionId, subscriber.Session.Path, dropped.MessageId, subscriber.Dropped, _settings.TopicPendingLimit);
        }
    }

    private void Deliver(TopicSubscriber subscriber, BrokerMessage message)
    {
        var tag = ++_lastDeliveryTag;
        subscriber.InFlight.Add(tag);
        subscriber.Session.Tell(new Deliver(subscriber.SubscriptionId, message, tag, Redelivered: false, DeliveryCount: 1));
    }
}
