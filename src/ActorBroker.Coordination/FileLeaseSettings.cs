using Akka.Configuration;
using Akka.Coordination;

namespace ActorBroker.Coordination;

/// <summary>Settings of <see cref="FileLease"/>, read once from its config section (see reference.conf).</summary>
public sealed class FileLeaseSettings
{
    /// <summary>Default config path; <c>akka.cluster.singleton.use-lease</c> points here.</summary>
    public const string ConfigPath = "actorbroker.coordination.file-lease";

    private FileLeaseSettings(string directory, TimeSpan maxClockSkew, TimeSpan lockStaleAfter, LeaseTiming timing)
    {
        Directory = directory;
        MaxClockSkew = maxClockSkew;
        LockStaleAfter = lockStaleAfter;
        Timing = timing;
    }

    /// <summary>Absolute path of the (possibly shared) directory holding the lease records.</summary>
    public string Directory { get; }

    /// <summary>How far the clocks of the machines sharing the directory may differ; added to the TTL by readers.</summary>
    public TimeSpan MaxClockSkew { get; }

    /// <summary>A lock file older than this belongs to a process that died mid-write and is broken.</summary>
    public TimeSpan LockStaleAfter { get; }

    public LeaseTiming Timing { get; }

    /// <summary>Reads and validates the lease section; throws <see cref="ConfigurationException"/> naming the key.</summary>
    public static FileLeaseSettings Create(LeaseSettings settings, string configPath = ConfigPath)
    {
        var config = settings.LeaseConfig.WithFallback(CoordinationConfig.Default.GetConfig(ConfigPath));
        var timing = LeaseTiming.Create(settings, configPath);

        var directory = config.GetString("directory", "");
        if (string.IsNullOrWhiteSpace(directory))
            throw new ConfigurationException($"[{configPath}.directory] must name the directory that holds the lease records");
        directory = Path.GetFullPath(directory);

        if (!System.IO.Directory.Exists(directory))
        {
            if (!config.GetBoolean("create-directory", false))
                throw new ConfigurationException(
                    $"[{configPath}.directory] [{directory}] does not exist or is unreachable (set create-directory = on to create it)");
            // Only the lease's own directory: a missing parent (an unmounted share) is never recreated as a private one.
            if (Path.GetDirectoryName(directory) is { } parent && !System.IO.Directory.Exists(parent))
                throw new ConfigurationException(
                    $"[{configPath}.directory] [{directory}] cannot be created: its parent [{parent}] does not exist or is unreachable");
            try
            {
                System.IO.Directory.CreateDirectory(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigurationException($"[{configPath}.directory] [{directory}] cannot be created: {e.Message}", e);
            }
        }

        ProbeWritable(directory, configPath);

        var maxClockSkew = config.GetTimeSpan("max-clock-skew", TimeSpan.Zero);
        if (maxClockSkew < TimeSpan.Zero)
            throw new ConfigurationException($"[{configPath}.max-clock-skew] must not be negative, was [{maxClockSkew}]");

        var lockStaleAfter = config.GetTimeSpan("lock-stale-after", TimeSpan.FromSeconds(2));
        if (lockStaleAfter <= timing.OperationTimeout)
            throw new ConfigurationException(
                $"[{configPath}.lock-stale-after] ({lockStaleAfter.TotalMilliseconds} ms) must be greater than " +
                $"[{configPath}.lease-operation-timeout] ({timing.OperationTimeout.TotalMilliseconds} ms), or live writers' locks get broken");

        return new FileLeaseSettings(directory, maxClockSkew, lockStaleAfter, timing);
    }

    private static void ProbeWritable(string directory, string configPath)
    {
        var probe = Path.Combine(directory, $".write-probe-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"[{configPath}.directory] [{directory}] is not writable: {e.Message}", e);
        }
    }
}
