using System.Globalization;
using ActorBroker.Core.Protocol;
using ActorBroker.Stomp.Codec;
using ActorBroker.Stomp.Transport;
using Akka.Actor;

namespace ActorBroker.Stomp.Session;

// Per-command semantics of a connected session. Handlers validate first (throwing
// StompProtocolException, which AroundReceive turns into ERROR + close) and act second.
internal sealed partial class StompSession
{
    private static readonly string[] SupportedVersions = ["1.2", "1.1", "1.0"];

    /// <summary>Headers the protocol owns; every other SEND header is a user header and passes through unchanged.</summary>
    private static readonly HashSet<string> ProtocolHeaders = new(StringComparer.Ordinal)
    {
        "destination", "transaction", "receipt", "content-length", "persistent",
        "message-id", "subscription", "ack", "redelivered", DeliveryCountHeader,
    };

    /// <summary>
    /// Deliveries of this message so far, this one included (1 on the first delivery), on every MESSAGE: the JMS property
    /// ActiveMQ users know, under its JMS name. A producer cannot set it.
    /// </summary>
    private const string DeliveryCountHeader = "JMSXDeliveryCount";

    private void HandleConnect(StompFrame frame)
    {
        var acceptVersion = frame.GetHeader("accept-version") ?? "1.0";
        var offered = acceptVersion.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var version = SupportedVersions.FirstOrDefault(v => offered.Contains(v, StringComparer.Ordinal));
        if (version is null)
        {
            Fail(new StompProtocolException(StompErrorKind.UnsupportedVersion,
                $"no common protocol version in accept-version [{acceptVersion}], supported: 1.0,1.1,1.2"),
                frame.GetHeader("receipt"), new KeyValuePair<string, string>("version", "1.0,1.1,1.2"));
            return;
        }

        var heartBeatHeader = frame.GetHeader("heart-beat");
        if (!HeartBeatNegotiation.TryParseHeader(heartBeatHeader, out var clientCanSend, out var clientWants))
            throw new StompProtocolException(StompErrorKind.InvalidHeader, $"heart-beat [{heartBeatHeader}] is not two non-negative integers \"cx,cy\"");

        _version = version;
        _clientId = frame.GetHeader("client-id");
        _heartBeat = HeartBeatNegotiation.Negotiate(clientCanSend, clientWants,
            _settings.HeartBeatSendInterval, _settings.HeartBeatReceiveInterval, _settings.HeartBeatGraceFactor);

        // CONNECTED carries the negotiated intervals; a client recomputing max(own, ours) gets the same values.
        _connection.TryWrite(new StompFrame(StompCommand.Connected,
        [
            new("version", version),
            new("heart-beat", HeartBeatNegotiation.FormatServerHeader(_heartBeat.ServerSendInterval, _heartBeat.ClientSendInterval)),
            new("server", ServerName),
            new("session", _connection.ConnectionId),
        ]));
        StompLog.SessionConnected(_logger, _connection.ConnectionId, version,
            new HeartBeatDescription(_heartBeat.ServerSendInterval, _heartBeat.ClientSendInterval), _clientId);
        GoTo(SessionState.Connected);
    }

    private void HandleFrame(StompFrame frame)
    {
        switch (frame.Command)
        {
            case StompCommand.Send: HandleSend(frame); break;
            case StompCommand.Subscribe: HandleSubscribe(frame); break;
            case StompCommand.Unsubscribe: HandleUnsubscribe(frame); break;
            case StompCommand.Ack: HandleAck(frame, isNack: false); break;
            case StompCommand.Nack: HandleAck(frame, isNack: true); break;
            case StompCommand.Begin: HandleBegin(frame); break;
            case StompCommand.Commit: HandleCommit(frame); break;
            case StompCommand.Abort: HandleAbort(frame); break;
            case StompCommand.Disconnect: HandleDisconnect(frame); break;
            case StompCommand.Connect or StompCommand.Stomp:
                throw new StompProtocolException(StompErrorKind.AlreadyConnected, "CONNECT on an already connected session");
            default:
                throw new StompProtocolException(StompErrorKind.UnexpectedCommand, $"a client may not send [{frame.Command.ToWireName()}]");
        }
    }

    private void HandleSend(StompFrame frame)
    {
        var destination = RequireDestination(frame);
        var headers = new List<KeyValuePair<string, string>>(frame.Headers.Count);
        foreach (var header in frame.Headers)
        {
            if (!ProtocolHeaders.Contains(header.Key))
                headers.Add(header);
        }

        var message = new BrokerMessage(
            _messageIds.Next(),
            destination,
            string.Equals(frame.GetHeader("persistent"), "true", StringComparison.OrdinalIgnoreCase),
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            headers,
            frame.Body);

        var receipt = frame.GetHeader("receipt");
        if (frame.GetHeader("transaction") is { } transactionId)
        {
            TransactionWithRoom(transactionId).Sends.Add(message);
            _connection.SendPermits.Release();
            WriteReceipt(receipt);
            return;
        }

        var operation = new PendingOperation(receipt, fromFrame: true);
        _brokerManager.Tell(new Send(message, Expect(operation, holdsSendPermit: true)));
        Activate(operation);
    }

    private void HandleSubscribe(StompFrame frame)
    {
        var destinationHeader = frame.GetHeader("destination");
        var id = frame.GetHeader("id") ?? (_version == "1.0" ? destinationHeader : null)
            ?? throw MissingHeader(frame, "id");
        if (_subscriptions.ContainsKey(id))
            throw new StompProtocolException(StompErrorKind.DuplicateSubscription, $"subscription id [{id}] is already in use on this connection");
        var destination = RequireDestination(frame);

        var ackHeader = frame.GetHeader("ack") ?? "auto";
        var mode = ackHeader switch
        {
            "auto" => AckMode.Auto,
            "client" => AckMode.Client,
            "client-individual" => AckMode.ClientIndividual,
            _ => throw new StompProtocolException(StompErrorKind.InvalidHeader, $"ack [{ackHeader}] is not one of auto, client, client-individual"),
        };

        var prefetch = _settings.DefaultPrefetch;
        if (frame.GetHeader("activemq.prefetchSize") is { } prefetchHeader
            && (!int.TryParse(prefetchHeader, NumberStyles.None, CultureInfo.InvariantCulture, out prefetch) || prefetch < 1))
        {
            throw new StompProtocolException(StompErrorKind.InvalidHeader, $"activemq.prefetchSize [{prefetchHeader}] is not a positive integer");
        }

        var durableName = frame.GetHeader("activemq.subscriptionName");
        if (durableName is not null)
        {
            if (destination.Kind != DestinationKind.Topic)
                throw new StompProtocolException(StompErrorKind.InvalidHeader, $"activemq.subscriptionName [{durableName}] needs a /topic/ destination, got [{destination}]");
            if (_clientId is null)
                throw new StompProtocolException(StompErrorKind.MissingHeader, $"durable subscription [{durableName}] needs a client-id header on CONNECT");
        }

        var operation = new PendingOperation(frame.GetHeader("receipt"), fromFrame: true);
        var correlation = Expect(operation);
        _subscriptions[id] = new SubscriptionState(id, destination, mode, correlation);
        _brokerManager.Tell(new Subscribe(id, destination, mode, prefetch, _clientId, durableName));
        Activate(operation);
    }

    private void HandleSubscribeConfirmed(SubscribeConfirmed confirmed)
    {
        if (_subscriptions.TryGetValue(confirmed.SubscriptionId, out var subscription) && subscription.DestinationActor is null)
        {
            subscription.DestinationActor = Sender;
            Context.Watch(Sender);
            Confirm(subscription.ConfirmCorrelation);
        }
        else if (_unsubscribedBeforeConfirm.Remove(confirmed.SubscriptionId, out var removeDurable))
        {
            Sender.Tell(new Unsubscribe(confirmed.SubscriptionId, removeDurable));
        }
    }

    private void HandleUnsubscribe(StompFrame frame)
    {
        var id = frame.GetHeader("id") ?? (_version == "1.0" ? frame.GetHeader("destination") : null)
            ?? throw MissingHeader(frame, "id");
        if (!_subscriptions.Remove(id, out var subscription))
            throw new StompProtocolException(StompErrorKind.UnknownSubscription, $"no subscription with id [{id}] on this connection");

        var removeDurable = frame.GetHeader("activemq.subscriptionName") is not null;
        _acks.RemoveSubscription(id);
        if (subscription.DestinationActor is { } destinationActor)
        {
            destinationActor.Tell(new Unsubscribe(id, removeDurable));
        }
        else
        {
            _unsubscribedBeforeConfirm[id] = removeDurable;
            Confirm(subscription.ConfirmCorrelation);
        }

        WriteReceipt(frame.GetHeader("receipt"));
    }

    private void HandleDeliver(Deliver deliver)
    {
        if (!_subscriptions.TryGetValue(deliver.SubscriptionId, out var subscription))
            return; // unsubscribed meanwhile: the destination requeues what it had sent
        subscription.DestinationActor ??= Sender;

        var message = deliver.Message;
        var headers = new List<KeyValuePair<string, string>>(message.Headers.Count + 8)
        {
            new("subscription", deliver.SubscriptionId),
            new("message-id", message.MessageId),
            new("destination", message.Destination.ToString()),
        };

        string? ackId = null;
        if (subscription.Mode != AckMode.Auto)
        {
            ackId = (++_nextAckId).ToString(CultureInfo.InvariantCulture);
            _acks.Track(subscription.Id, subscription.Mode, ackId, message.MessageId, deliver.DeliveryTag);
            if (IsVersion12)
                headers.Add(new("ack", ackId));
        }

        if (deliver.Redelivered)
            headers.Add(new("redelivered", "true"));
        headers.Add(new(DeliveryCountHeader, deliver.DeliveryCount.ToString(CultureInfo.InvariantCulture)));
        if (message.Persistent)
            headers.Add(new("persistent", "true"));
        headers.Add(new("timestamp", message.Timestamp.ToString(CultureInfo.InvariantCulture)));
        headers.AddRange(message.Headers);

        var frame = new StompFrame(StompCommand.Message, headers, message.Body);
        _connection.TryWrite(frame, ackId is null ? new FlushedDelivery(Sender, deliver.SubscriptionId, deliver.DeliveryTag) : null);
    }

    /// <summary>Auto-ack: the MESSAGEs reached the socket, so they count as consumed; one core Ack per subscription.</summary>
    private void HandleDeliveriesFlushed(DeliveriesFlushed flushed)
    {
        foreach (var group in flushed.Deliveries.GroupBy(d => (d.Destination, d.SubscriptionId)))
        {
            var operation = new PendingOperation(receiptId: null, fromFrame: false);
            group.Key.Destination.Tell(new Ack(group.Key.SubscriptionId, group.Select(d => d.DeliveryTag).ToArray(), Expect(operation)));
            Activate(operation);
        }
    }

    private void HandleAck(StompFrame frame, bool isNack)
    {
        // 1.2 names the MESSAGE's ack header in "id"; 1.0/1.1 name message-id (+ subscription in 1.1).
        // A 1.2 "id" that is no ack id is also tried as a message-id, for clients that mix the two.
        var id = IsVersion12 ? frame.GetHeader("id") ?? throw MissingHeader(frame, "id") : null;
        var messageId = IsVersion12 ? id : frame.GetHeader("message-id") ?? throw MissingHeader(frame, "message-id");
        var subscriptionHeader = frame.GetHeader("subscription");
        if (_version == "1.1" && subscriptionHeader is null)
            throw MissingHeader(frame, "subscription");

        string subscriptionId;
        string ackId;
        if (id is not null && _acks.TryFindByAckId(id, out subscriptionId))
            ackId = id;
        else if (!_acks.TryFindByMessageId(messageId!, subscriptionHeader, out subscriptionId, out ackId))
            throw new StompProtocolException(StompErrorKind.UnknownMessage,
                $"{frame.Command.ToWireName()} of {(IsVersion12 ? "id" : "message-id")} [{messageId}], which is not an unacknowledged message of this connection");

        var receipt = frame.GetHeader("receipt");
        if (frame.GetHeader("transaction") is { } transactionId)
        {
            TransactionWithRoom(transactionId).Acks.Add(new BufferedAck(subscriptionId, ackId, isNack));
            WriteReceipt(receipt);
            return;
        }

        var operation = new PendingOperation(receipt, fromFrame: true);
        SendAck(new BufferedAck(subscriptionId, ackId, isNack), operation);
        Activate(operation);
    }

    /// <summary>Resolves the delivery tags an ACK/NACK covers now and sends them to the destination.</summary>
    private void SendAck(BufferedAck ack, PendingOperation operation)
    {
        var tags = _acks.Take(ack.SubscriptionId, ack.AckId);
        if (tags.Count == 0 || !_subscriptions.TryGetValue(ack.SubscriptionId, out var subscription) || subscription.DestinationActor is null)
            return;
        var correlation = Expect(operation);
        subscription.DestinationActor.Tell(ack.IsNack
            ? new Nack(ack.SubscriptionId, tags, correlation)
            : new Ack(ack.SubscriptionId, tags, correlation));
    }

    private void HandleBegin(StompFrame frame)
    {
        var transactionId = frame.GetHeader("transaction") ?? throw MissingHeader(frame, "transaction");
        if (!_transactions.TryAdd(transactionId, new Transaction()))
            throw new StompProtocolException(StompErrorKind.DuplicateTransaction, $"transaction [{transactionId}] is already open");
        WriteReceipt(frame.GetHeader("receipt"));
    }

    /// <summary>One SendBatch per destination (atomic per destination) plus the buffered acks; RECEIPT once all are confirmed.</summary>
    private void HandleCommit(StompFrame frame)
    {
        var transactionId = frame.GetHeader("transaction") ?? throw MissingHeader(frame, "transaction");
        var transaction = RequireTransaction(transactionId);
        _transactions.Remove(transactionId);

        var operation = new PendingOperation(frame.GetHeader("receipt"), fromFrame: true);
        foreach (var batch in transaction.Sends.GroupBy(m => m.Destination))
            _brokerManager.Tell(new SendBatch(batch.Key, batch.ToArray(), Expect(operation)));
        foreach (var ack in transaction.Acks)
            SendAck(ack, operation);
        Activate(operation);
    }

    private void HandleAbort(StompFrame frame)
    {
        var transactionId = frame.GetHeader("transaction") ?? throw MissingHeader(frame, "transaction");
        RequireTransaction(transactionId);
        _transactions.Remove(transactionId);
        WriteReceipt(frame.GetHeader("receipt"));
    }

    private void HandleDisconnect(StompFrame frame)
    {
        _disconnectReceipt = frame.GetHeader("receipt");
        GoTo(SessionState.Disconnecting);
        CompleteDisconnectIfDone();
    }

    private void ReleasePermitIfSend(StompFrame frame)
    {
        if (frame.Command == StompCommand.Send)
            _connection.SendPermits.Release();
    }

    private Transaction RequireTransaction(string transactionId) =>
        _transactions.TryGetValue(transactionId, out var transaction)
            ? transaction
            : throw new StompProtocolException(StompErrorKind.UnknownTransaction, $"transaction [{transactionId}] is not open (no BEGIN, or already committed or aborted)");

    /// <summary>The open transaction, with room for one more buffered frame (max-transaction-frames bounds session memory).</summary>
    private Transaction TransactionWithRoom(string transactionId)
    {
        var transaction = RequireTransaction(transactionId);
        if (transaction.Sends.Count + transaction.Acks.Count >= _settings.MaxTransactionFrames)
            throw new StompProtocolException(StompErrorKind.TransactionTooLarge, $"transaction [{transactionId}] exceeds max-transaction-frames [{_settings.MaxTransactionFrames}]");
        return transaction;
    }

    private static Destination RequireDestination(StompFrame frame)
    {
        var header = frame.GetHeader("destination") ?? throw MissingHeader(frame, "destination");
        return Destination.TryParse(header, out var destination, out var error)
            ? destination
            : throw new StompProtocolException(StompErrorKind.InvalidHeader, error ?? $"invalid destination [{header}]");
    }

    private static StompProtocolException MissingHeader(StompFrame frame, string header) =>
        new(StompErrorKind.MissingHeader, $"{frame.Command.ToWireName()} frame without the required [{header}] header");
}
