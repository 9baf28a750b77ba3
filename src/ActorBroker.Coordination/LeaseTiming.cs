using Akka.Configuration;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>
/// The timing of one lease: how often the holder heart-beats, how long a silent holder keeps the lease (TTL), how long
/// one store operation may take, and how much earlier than the TTL the holder gives the lease up on its own.
/// </summary>
public sealed class LeaseTiming
{
    private LeaseTiming(TimeSpan heartbeatInterval, TimeSpan heartbeatTimeout, TimeSpan operationTimeout, TimeSpan safetyMargin)
    {
        HeartbeatInterval = heartbeatInterval;
        HeartbeatTimeout = heartbeatTimeout;
        OperationTimeout = operationTimeout;
        SafetyMargin = safetyMargin;
    }

    /// <summary>Time between two heart-beats of the holder (<c>heartbeat-interval</c>).</summary>
    public TimeSpan HeartbeatInterval { get; }

    /// <summary>The TTL: a holder silent for this long may be taken over (<c>heartbeat-timeout</c>).</summary>
    public TimeSpan HeartbeatTimeout { get; }

    /// <summary>Longest wait for one store operation (<c>lease-operation-timeout</c>).</summary>
    public TimeSpan OperationTimeout { get; }

    /// <summary>
    /// The holder considers the lease lost at (start of its last successful heartbeat + TTL - this), measured on its own
    /// monotonic clock, so its lease-lost callback runs before anyone else can acquire (<c>safety-margin</c>).
    /// </summary>
    public TimeSpan SafetyMargin { get; }

    /// <summary>How long after a heartbeat was sent the holder may still trust it holds the lease.</summary>
    public TimeSpan HoldValidity => HeartbeatTimeout - SafetyMargin;

    /// <summary>
    /// Reads <c>safety-margin</c> from the lease section and checks the rules that span several keys.
    /// <paramref name="configPath"/> only names the section in error messages.
    /// </summary>
    public static LeaseTiming Create(LeaseSettings settings, string configPath)
    {
        var timeouts = settings.TimeoutSettings;
        var config = settings.LeaseConfig;
        var safetyMargin = config.HasPath("safety-margin")
            ? config.GetTimeSpan("safety-margin")
            : timeouts.HeartbeatInterval;

        return Create(timeouts.HeartbeatInterval, timeouts.HeartbeatTimeout, timeouts.OperationTimeout, safetyMargin, configPath);
    }

    /// <summary>Validates and builds timing from explicit values (tests, hosting code).</summary>
    public static LeaseTiming Create(
        TimeSpan heartbeatInterval, TimeSpan heartbeatTimeout, TimeSpan operationTimeout, TimeSpan safetyMargin, string configPath)
    {
        if (heartbeatInterval <= TimeSpan.Zero)
            throw new ConfigurationException($"[{configPath}.heartbeat-interval] must be positive, was [{heartbeatInterval}]");
        if (operationTimeout <= TimeSpan.Zero)
            throw new ConfigurationException($"[{configPath}.lease-operation-timeout] must be positive, was [{operationTimeout}]");
        if (safetyMargin < TimeSpan.Zero)
            throw new ConfigurationException($"[{configPath}.safety-margin] must not be negative, was [{safetyMargin}]");
        if (heartbeatInterval >= heartbeatTimeout / 2)
            throw new ConfigurationException(
                $"[{configPath}.heartbeat-interval] ({heartbeatInterval.TotalMilliseconds} ms) must be less than half of " +
                $"[{configPath}.heartbeat-timeout] ({heartbeatTimeout.TotalMilliseconds} ms), so one lost heartbeat does not lose the lease");
        if (heartbeatInterval + safetyMargin >= heartbeatTimeout)
            throw new ConfigurationException(
                $"[{configPath}.heartbeat-interval] ({heartbeatInterval.TotalMilliseconds} ms) + [{configPath}.safety-margin] " +
                $"({safetyMargin.TotalMilliseconds} ms) must be less than [{configPath}.heartbeat-timeout] " +
                $"({heartbeatTimeout.TotalMilliseconds} ms): the holder must get a heartbeat through before it gives the lease up");

        return new LeaseTiming(heartbeatInterval, heartbeatTimeout, operationTimeout, safetyMargin);
    }

    public override string ToString() =>
        $"interval {HeartbeatInterval.TotalMilliseconds} ms, TTL {HeartbeatTimeout.TotalMilliseconds} ms, " +
        $"operation timeout {OperationTimeout.TotalMilliseconds} ms, safety margin {SafetyMargin.TotalMilliseconds} ms";
}
