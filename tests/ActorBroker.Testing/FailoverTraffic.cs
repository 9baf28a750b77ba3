namespace ActorBroker.Testing;

/// <summary>
/// A <see cref="ReceiptedProducer"/> and an <see cref="AckingConsumer"/> running at once against a cluster's address
/// list, each on its own task: the load a failover happens under. <see cref="FinishAsync"/> stops the producer, lets
/// the consumer drain and returns the violated delivery guarantees.
/// </summary>
public sealed class FailoverTraffic : IAsyncDisposable
{
    /// <summary>How long one message may take to get receipted, failovers included (loaded 2-core machine).</summary>
    public static readonly TimeSpan PerMessageTimeout = TimeSpan.FromSeconds(90);

    private readonly CancellationTokenSource _stopProducing = new();
    private readonly CancellationTokenSource _stopConsuming = new();
    private readonly Task<int> _producing;
    private readonly Task _consuming;

    private FailoverTraffic(IReadOnlyList<int> ports, string destination, int firstSeq)
    {
        Producer = new ReceiptedProducer(ports, destination);
        Consumer = new AckingConsumer(ports, destination);
        _producing = Task.Run(() => Producer.RunAsync(firstSeq, PerMessageTimeout, _stopProducing.Token));
        _consuming = Task.Run(() => Consumer.RunAsync(_stopConsuming.Token));
    }

    public ReceiptedProducer Producer { get; }
    public AckingConsumer Consumer { get; }

    public static FailoverTraffic Start(IReadOnlyList<int> ports, string destination, int firstSeq = 0) => new(ports, destination, firstSeq);

    /// <summary>Waits until at least <paramref name="count"/> sends are receipted in total; rethrows a producer failure.</summary>
    public async Task WaitForReceiptsAsync(int count, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Producer.Receipted.Count < count)
        {
            if (_producing.IsCompleted) await _producing;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"only {Producer.Receipted.Count} of {count} receipts within {timeout}\n{diagnostics?.Invoke()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the consumer recorded at least <paramref name="count"/> deliveries.</summary>
    public async Task WaitForDeliveriesAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Consumer.Deliveries.Count < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"only {Consumer.Deliveries.Count} of {count} deliveries within {timeout}");
            await Task.Delay(50);
        }
    }

    /// <summary>Stops the producer (the message in flight completes or is abandoned).</summary>
    public async Task StopProducingAsync()
    {
        _stopProducing.Cancel();
        await _producing;
    }

    /// <summary>
    /// Stops producing, waits until every receipted message was consumed and the consumer has been idle for 2 s, stops
    /// the consumer, and returns <see cref="DeliveryCheck.Violations"/>.
    /// </summary>
    public async Task<IReadOnlyList<string>> FinishAsync(TimeSpan timeout)
    {
        if (!_stopProducing.IsCancellationRequested) await StopProducingAsync();
        await Consumer.WaitUntilConsumedAsync(Producer.Receipted.Keys, TimeSpan.FromSeconds(2), timeout);
        _stopConsuming.Cancel();
        await _consuming;
        return DeliveryCheck.Violations(Producer.Receipted.Keys, Consumer.Deliveries);
    }

    /// <summary>One line of counts for failure messages.</summary>
    public string Summary() =>
        $"receipted {Producer.Receipted.Count} (late {Producer.LateReceipts.Count}), producer errors {Producer.ErrorFrames} closes {Producer.ClosedConnections} " +
        $"stalls {Producer.ReceiptTimeouts} no-broker {Producer.ConnectFailures}; deliveries {Consumer.Deliveries.Count} " +
        $"(redelivered {Consumer.Deliveries.Count(d => d.Redelivered)}), consumer reconnects {Consumer.Reconnects}";

    public async ValueTask DisposeAsync()
    {
        _stopProducing.Cancel();
        _stopConsuming.Cancel();
        try
        {
            await Task.WhenAll(_producing, _consuming).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (Exception)
        {
            // A failed run already reported its failure; disposal only stops the tasks.
        }

        await Producer.DisposeAsync();
        _stopProducing.Dispose();
        _stopConsuming.Dispose();
    }
}
