using System.Collections.Concurrent;
using System.Net.Sockets;
using static ActorBroker.Testing.StompTestClient;

namespace ActorBroker.Testing;

/// <summary>
/// Connects like a STOMP client configured with a list of broker addresses: tries each port in rotation until one
/// answers CONNECTED. A standby refuses the TCP connection; a frozen master accepts it and then says nothing, which the
/// per-attempt timeout turns into "try the next one".
/// </summary>
public static class FailoverConnector
{
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(3);

    public static async Task<(StompTestClient Client, int Port)> ConnectAsync(
        IReadOnlyList<int> ports, TimeSpan timeout, IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var failures = new List<string>();
        for (var attempt = 0; ; attempt++)
        {
            var port = ports[attempt % ports.Count];
            try
            {
                var (client, _) = await ConnectStompAsync("127.0.0.1", port, headers, AttemptTimeout);
                return (client, port);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                // Stopped while a broker refused or was failing over: a stop, not a connection error (a consumer told
                // to stop mid-reconnect once failed a test with "Connection refused").
                cancel.ThrowIfCancellationRequested();
                if (failures.Count < 20) failures.Add($"{port}: {e.GetType().Name} {e.Message}");
            }

            cancel.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no broker among ports [{string.Join(", ", ports)}] accepted a STOMP session within {timeout}: {string.Join("; ", failures)}");
            if (attempt % ports.Count == ports.Count - 1)
                await Task.Delay(50, cancel);
        }
    }

    /// <summary>What a client sees when a broker dies, refuses, stalls or answers ERROR.</summary>
    public static bool IsConnectionFailure(Exception e) =>
        e is SocketException or IOException or TimeoutException or ObjectDisposedException or InvalidOperationException
            or OperationCanceledException;
}

/// <summary>
/// A producer that sends persistent messages one at a time, each with a receipt, failing over between ports. Every
/// attempt has its own <c>send-id</c> header ("seq.attempt"), so a message resent after a lost receipt is told apart
/// from a broker-side duplicate. <see cref="Receipted"/> is the set of send-ids the broker acknowledged: the messages
/// the broker promised not to lose. A connection that stalled with a send in flight (a frozen master) is kept in
/// <see cref="Abandoned"/>, so a late receipt from it can be collected with <see cref="DrainAbandonedAsync"/>.
/// Not thread-safe: one task drives it.
/// </summary>
public sealed class ReceiptedProducer(IReadOnlyList<int> ports, string destination) : IAsyncDisposable
{
    private readonly List<StompTestClient> _abandoned = [];
    private StompTestClient? _client;
    private int _attempts;

    /// <summary>send-id → seq of every send that got its RECEIPT, and when it arrived.</summary>
    public ConcurrentDictionary<string, (int Seq, DateTime At)> Receipted { get; } = new();

    /// <summary>Receipts that arrived on abandoned connections (see <see cref="DrainAbandonedAsync"/>).</summary>
    public ConcurrentBag<string> LateReceipts { get; } = [];

    public int ErrorFrames;
    public int ClosedConnections;
    public int ReceiptTimeouts;
    public int ConnectFailures;

    /// <summary>Every way a send attempt failed so far: ERROR frames, closed connections, stalls, no broker to connect to.</summary>
    public int Failures => ErrorFrames + ClosedConnections + ReceiptTimeouts + ConnectFailures;

    /// <summary>Time for a receipt before the connection counts as stalled; generous for a loaded 2-core machine.</summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public IReadOnlyList<StompTestClient> Abandoned => _abandoned;

    /// <summary>One attempt to get <paramref name="seq"/> receipted; false (and the connection dropped) on ERROR, close or stall.</summary>
    public async Task<bool> TrySendAsync(int seq, TimeSpan connectTimeout, CancellationToken cancel = default)
    {
        if (_client is null)
        {
            try
            {
                (_client, _) = await FailoverConnector.ConnectAsync(ports, connectTimeout, cancel: cancel);
            }
            catch (TimeoutException)
            {
                Interlocked.Increment(ref ConnectFailures);
                return false;
            }
        }

        var client = _client;
        var sendId = $"{seq}.{_attempts++}";
        try
        {
            await client.SendFrameAsync("SEND",
                H("destination", destination, "persistent", "true", "seq", seq.ToString(), "send-id", sendId, "receipt", sendId),
                $"message {seq}");
            var frame = await client.TryReceiveFrameAsync(ReceiptTimeout);
            if (frame is null)
            {
                Interlocked.Increment(ref ReceiptTimeouts);
                _abandoned.Add(client);
                _client = null;
                return false;
            }

            if (frame.Command == "RECEIPT" && frame["receipt-id"] == sendId)
            {
                Receipted[sendId] = (seq, DateTime.UtcNow);
                return true;
            }

            if (frame.Command == "ERROR") Interlocked.Increment(ref ErrorFrames);
            else throw new InvalidOperationException($"producer expected RECEIPT {sendId}, got {frame}");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Interlocked.Increment(ref ClosedConnections);
        }

        await client.DisposeAsync();
        _client = null;
        return false;
    }

    /// <summary>Retries <paramref name="seq"/> (failing over) until it is receipted; throws after <paramref name="timeout"/>.</summary>
    public async Task SendUntilReceiptedAsync(int seq, TimeSpan timeout, CancellationToken cancel = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await TrySendAsync(seq, FailoverConnector.AttemptTimeout * ports.Count, cancel))
        {
            cancel.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"message {seq} not receipted within {timeout} (errors {ErrorFrames}, closes {ClosedConnections}, stalls {ReceiptTimeouts})");
            await Task.Delay(50, cancel);
        }
    }

    /// <summary>Sends seq = first, first+1, ... each until receipted, until <paramref name="stop"/> is cancelled.</summary>
    public async Task<int> RunAsync(int first, TimeSpan perMessageTimeout, CancellationToken stop)
    {
        var seq = first;
        try
        {
            while (!stop.IsCancellationRequested)
                await SendUntilReceiptedAsync(seq++, perMessageTimeout, stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return seq;
    }

    /// <summary>Reads what the abandoned connections still deliver for <paramref name="within"/>; receipts count as <see cref="Receipted"/>.</summary>
    public async Task DrainAbandonedAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        foreach (var client in _abandoned)
        {
            try
            {
                while (DateTime.UtcNow < deadline && await client.TryReceiveFrameAsync(deadline - DateTime.UtcNow) is { } frame)
                {
                    if (frame.Command == "RECEIPT" && frame["receipt-id"] is { } id)
                    {
                        Receipted[id] = (int.Parse(id.Split('.')[0]), DateTime.UtcNow);
                        LateReceipts.Add(id);
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // Closed: nothing more will come from it.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        foreach (var client in _abandoned) await client.DisposeAsync();
    }
}

/// <summary>One MESSAGE as a consumer saw it.</summary>
public sealed record Delivery(string SendId, int Seq, string MessageId, bool Redelivered, int Port, DateTime At);

/// <summary>
/// A consumer with <c>ack:client-individual</c> that ACKs every message right after recording it, failing over between
/// ports. It asks the broker for heart-beats and treats 3 s of silence as a dead connection (a frozen master), like a
/// real client; then it reconnects and subscribes again.
/// </summary>
public sealed class AckingConsumer(IReadOnlyList<int> ports, string destination)
{
    private static readonly TimeSpan SilenceLimit = TimeSpan.FromSeconds(3);

    public ConcurrentQueue<Delivery> Deliveries { get; } = new();

    public int Reconnects;

    /// <summary>Consumes until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            StompTestClient client;
            int port;
            try
            {
                (client, port) = await FailoverConnector.ConnectAsync(ports, TimeSpan.FromSeconds(10), H("heart-beat", "0,500"), stop);
            }
            catch (TimeoutException)
            {
                continue;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }

            await using (client)
            {
                try
                {
                    await client.SendFrameAsync("SUBSCRIBE",
                        H("id", "failover-consumer", "destination", destination, "ack", "client-individual", "activemq.prefetchSize", "50"));
                    await ConsumeAsync(client, port, stop);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    // The broker went away: fail over.
                }
            }

            Interlocked.Increment(ref Reconnects);
        }
    }

    private async Task ConsumeAsync(StompTestClient client, int port, CancellationToken stop)
    {
        var lastSign = DateTime.UtcNow;
        var beats = client.HeartBeatsReceived;
        while (!stop.IsCancellationRequested)
        {
            var frame = await client.TryReceiveFrameAsync(TimeSpan.FromMilliseconds(500));
            if (frame is null)
            {
                if (client.HeartBeatsReceived != beats)
                {
                    beats = client.HeartBeatsReceived;
                    lastSign = DateTime.UtcNow;
                }
                else if (DateTime.UtcNow - lastSign > SilenceLimit)
                {
                    return; // silent broker: treat as dead
                }

                continue;
            }

            lastSign = DateTime.UtcNow;
            if (frame.Command == "ERROR") return;
            if (frame.Command != "MESSAGE") continue;
            Deliveries.Enqueue(new Delivery(
                frame["send-id"] ?? "?", int.Parse(frame["seq"] ?? "-1"), frame["message-id"] ?? "?",
                frame["redelivered"] == "true", port, DateTime.UtcNow));
            await client.SendFrameAsync("ACK", H("id", frame["ack"] ?? frame["message-id"] ?? ""));
        }
    }

    /// <summary>
    /// Waits until every send-id in <paramref name="expected"/> was delivered and then nothing new arrived for
    /// <paramref name="quiet"/> (so late duplicates are seen too), or <paramref name="timeout"/> passed.
    /// </summary>
    public async Task WaitUntilConsumedAsync(IEnumerable<string> expected, TimeSpan quiet, TimeSpan timeout)
    {
        var wanted = expected.ToHashSet();
        var deadline = DateTime.UtcNow + timeout;
        var count = -1;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            var seen = Deliveries.Select(d => d.SendId).ToHashSet();
            if (Deliveries.Count != count)
            {
                count = Deliveries.Count;
                since = DateTime.UtcNow;
            }
            else if (wanted.IsSubsetOf(seen) && DateTime.UtcNow - since > quiet)
            {
                return;
            }

            await Task.Delay(100);
        }
    }
}

/// <summary>The delivery guarantees a failover must keep, checked over what the producer and consumer recorded.</summary>
public static class DeliveryCheck
{
    /// <summary>
    /// Every receipted send-id was delivered at least once, and every delivery of a send-id after its first carries
    /// <c>redelivered:true</c>. Returns a description of each violation (empty when none).
    /// </summary>
    public static IReadOnlyList<string> Violations(IEnumerable<string> receipted, IEnumerable<Delivery> deliveries)
    {
        var bySendId = deliveries.GroupBy(d => d.SendId).ToDictionary(g => g.Key, g => g.OrderBy(d => d.At).ToList());
        var violations = new List<string>();
        foreach (var sendId in receipted.Where(id => !bySendId.ContainsKey(id)).OrderBy(id => id))
            violations.Add($"lost: receipted {sendId} never delivered");
        foreach (var (sendId, list) in bySendId)
        {
            foreach (var duplicate in list.Skip(1).Where(d => !d.Redelivered))
                violations.Add($"unflagged duplicate: {sendId} delivered {list.Count} times, copy {duplicate.MessageId} from port {duplicate.Port} lacks redelivered:true");
        }

        return violations;
    }
}
